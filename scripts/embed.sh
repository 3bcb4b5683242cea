#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Emit an assembler file that embeds the given policy files and a table of
# {name, data, length} for core/embedded.c. Names keep the policies/ prefix.
set -eu
echo '	.section .rodata'
i=0
for f in "$@"; do
	printf '\t.balign 16\npt_emb_%d:\n\t.incbin "%s"\n\t.byte 0\npt_emb_%d_end:\npt_emb_name_%d:\n\t.asciz "%s"\n' \
		"$i" "$(realpath "$f")" "$i" "$i" "$f"
	i=$((i + 1))
done
echo '	.section .data.rel.ro'
echo '	.balign 8'
echo '	.globl embedded_files'
echo 'embedded_files:'
j=0
while [ "$j" -lt "$i" ]; do
	printf '\t.quad pt_emb_name_%d, pt_emb_%d, pt_emb_%d_end - pt_emb_%d - 1\n' "$j" "$j" "$j" "$j"
	j=$((j + 1))
done
echo '	.quad 0, 0, 0'
echo '	.section .note.GNU-stack,"",@progbits'
