# SPDX-License-Identifier: Apache-2.0
# What the integration scripts share. Source it, then call it_init NAME:
#   T         a new directory /tmp/NAME.XXXXXX, removed at exit (KEEP=1 keeps it)
#   PIDS      background processes stopped at exit (with SIGTERM, or the
#             signal named in IT_SIGNAL)
#   ok NAME [NOTE] / bad NAME [FILE|NOTE]: count a result; bad shows the
#             last 30 lines of FILE, or the note
#   it_done   the "N passed, N failed" line CI reads, and the exit status
#   fake_api_cert: a serving pair for a fake apiserver on 127.0.0.1
# A script that needs more at exit defines it_on_exit; it runs first.

it_init() {
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	PIDS=""
	pass=0
	fail=0
	trap it_cleanup EXIT
	trap 'exit 130' INT TERM
}

it_cleanup() {
	if declare -F it_on_exit >/dev/null; then it_on_exit; fi
	for p in $PIDS; do kill -"${IT_SIGNAL:-TERM}" "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}

ok() { pass=$((pass + 1)); echo "PASS $1${2:+ ($2)}"; }

bad() {
	fail=$((fail + 1))
	echo "FAIL $1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		tail -n 30 "$2" | sed 's/^/     | /'
	elif [ -n "${2:-}" ]; then
		echo "     | $2"
	fi
	return 0
}

it_done() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}

# The fake apiserver's serving pair, $T/api.crt and $T/api.key (SANs
# 127.0.0.1 and localhost), signed by its own CA, $T/api-ca.crt, all made
# with the openssl CLI so that they do not depend on the code under test.
fake_api_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$T/api-ca.key" -out "$T/api-ca.crt" -subj "/CN=fake-apiserver-ca" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/api.key" \
			-out "$T/api.csr" -subj "/CN=kube-apiserver" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/api.ext" &&
		openssl x509 -req -in "$T/api.csr" -CA "$T/api-ca.crt" -CAkey "$T/api-ca.key" -CAcreateserial \
			-days 2 -extfile "$T/api.ext" -out "$T/api.crt" 2>/dev/null
}
