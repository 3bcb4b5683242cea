// SPDX-License-Identifier: Apache-2.0
// HeapFill: what a JVM sees in a container and whether it can use the
// memory it was given. Prints the processor count and max heap the JVM
// chose, then keeps 1 MiB arrays live until it holds the target (MiB,
// first argument), churning garbage along the way. Without enough heap it
// ends in OutOfMemoryError: exit 1 by default, or 3 with
// -XX:+ExitOnOutOfMemoryError, which kills the JVM at the first one.
import java.util.ArrayList;
import java.util.List;

public class HeapFill {
	public static void main(String[] args) {
		int target = args.length > 0 ? Integer.parseInt(args[0]) : 200;
		Runtime rt = Runtime.getRuntime();
		System.out.printf("{\"phase\":\"start\",\"available_processors\":%d,\"max_heap_mib\":%d}%n",
				  rt.availableProcessors(), rt.maxMemory() >> 20);
		List<byte[]> live = new ArrayList<>();
		long t0 = System.nanoTime();
		byte[] sink = null;
		for (int mib = 1; mib <= target; mib++) {
			byte[] b = new byte[1 << 20];
			b[mib % b.length] = 1;
			live.add(b);
			for (int g = 0; g < 4; g++)
				sink = new byte[256 << 10];
			if (mib % 32 == 0)
				System.out.printf("{\"phase\":\"grow\",\"live_mib\":%d}%n", mib);
		}
		System.out.printf("{\"phase\":\"done\",\"live_mib\":%d,\"elapsed_s\":%.2f,\"sink\":%d}%n", live.size(),
				  (System.nanoTime() - t0) / 1e9, sink.length);
	}
}
