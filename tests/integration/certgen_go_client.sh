#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The kube-apiserver is a Go crypto/tls client: check that it accepts the
# pairs `podtuner certgen` makes (ECDSA P-256 and RSA 2048), under TLS 1.3
# and 1.2, by the Service name, and rejects a name the certificate lacks.
# The server is `openssl s_server` on 127.0.0.1. Run from the repository
# root; PODTUNER is the binary (default build/rel/podtuner).
set -u

PODTUNER=${PODTUNER:-build/rel/podtuner}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_init certgen_go

command -v go >/dev/null || { echo "go is required (make deps installs golang-go)" >&2; exit 1; }
[ -x "$PODTUNER" ] || { echo "no podtuner binary at '$PODTUNER'" >&2; exit 1; }

mkdir -p "$T/client"
cat >"$T/client/main.go" <<'EOF'
// Dial like the apiserver calls a webhook: verify against the caBundle
// (the only root) and the Service name.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

func main() {
	ca, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		fmt.Println("no certificate in the CA file")
		os.Exit(1)
	}
	if _, err := tls.LoadX509KeyPair(os.Args[4], os.Args[5]); err != nil {
		fmt.Println("the pair does not load in Go:", err)
		os.Exit(1)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: os.Args[3]}
	if os.Args[6] == "1.2" {
		cfg.MaxVersion = tls.VersionTLS12
	}
	c, err := tls.Dial("tcp", os.Args[2], cfg)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	st := c.ConnectionState()
	fmt.Printf("ok %x %s\n", st.Version, tls.CipherSuiteName(st.CipherSuite))
	c.Close()
}
EOF
printf 'module certgenclient\n\ngo 1.19\n' >"$T/client/go.mod"
# Go needs a build cache; CI may run without HOME.
[ -n "${GOCACHE:-}" ] || [ -n "${HOME:-}" ] || export GOCACHE=$T/gocache
if ! (cd "$T/client" && GOFLAGS=-mod=mod go build -o client . >"$T/build.log" 2>&1); then
	bad "build the Go client" "$T/build.log"
	it_done
	exit 1
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for kt in ecdsa rsa; do
	d=$T/$kt
	"$PODTUNER" certgen --service podtuner --namespace podtuner --out-dir "$d" --key-type "$kt" 2>"$T/err" ||
		{ bad "$kt: certgen" "$T/err"; continue; }
	port=$(free_port)
	openssl s_server -accept "127.0.0.1:$port" -cert "$d/tls.crt" -key "$d/tls.key" -naccept 3 -quiet \
		</dev/null >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.05
	done
	# that probe used one of the three accepts
	for v in 1.3 1.2; do
		if "$T/client/client" "$d/ca.crt" "127.0.0.1:$port" podtuner.podtuner.svc "$d/tls.crt" "$d/tls.key" $v \
			>"$T/out" 2>&1 && grep -q '^ok' "$T/out"; then
			ok "$kt: Go crypto/tls (max TLS $v) verifies podtuner.podtuner.svc: $(cat "$T/out")"
		else
			bad "$kt: Go client, TLS $v" "$T/out"
		fi
	done
	port2=$(free_port)
	openssl s_server -accept "127.0.0.1:$port2" -cert "$d/tls.crt" -key "$d/tls.key" -naccept 2 -quiet \
		</dev/null >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null && break
		sleep 0.05
	done
	if ! "$T/client/client" "$d/ca.crt" "127.0.0.1:$port2" other.podtuner.svc "$d/tls.crt" "$d/tls.key" 1.3 \
		>"$T/out" 2>&1 && grep -q 'certificate is valid for podtuner.podtuner.svc, podtuner.podtuner.svc.cluster.local, not other.podtuner.svc' "$T/out"; then
		ok "$kt: Go rejects a name the certificate lacks"
	else
		bad "$kt: wrong name accepted" "$T/out"
	fi
done

it_done
