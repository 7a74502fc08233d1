#!/usr/bin/env bash
# Test certificates for the secured local stack: scripts/lib/stack-tls.sh DIR
#   ca.pem, ca-key.pem                       the stack's CA (trusted by every client and by the Temporal proxy)
#   server.pem, server-key.pem, server-bundle.pem
#                                            the services' certificate (IP:127.0.0.1, DNS:localhost); the bundle
#                                            (cert + key) is the form haproxy reads
#   client.pem, client-key.pem               the pipeline's client certificate for Temporal mTLS
#   rogue-ca.pem, rogue-client.pem, rogue-client-key.pem
#                                            an unrelated CA and a client certificate it signed, so tests can
#                                            present a certificate the stack must refuse
# Existing files are reused while they still verify against their CA and stay valid for another day;
# otherwise the whole set is made again (a half-replaced set would not chain). Keys are 0600.
# These are throw-away test certificates: short-lived (30 days), never for a real deployment.
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir="${1:?usage: stack-tls.sh DIR}"
DAYS=30
mkdir -p "$dir"
chmod 0700 "$dir"

valid_for_a_day() { openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

existing_set_is_usable() {
  local f
  for f in ca.pem ca-key.pem server.pem server-key.pem server-bundle.pem client.pem client-key.pem \
    rogue-ca.pem rogue-ca-key.pem rogue-client.pem rogue-client-key.pem; do
    [[ -s "$dir/$f" ]] || return 1
  done
  for f in ca.pem server.pem client.pem rogue-ca.pem rogue-client.pem; do valid_for_a_day "$dir/$f" || return 1; done
  openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem" >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$dir/rogue-ca.pem" "$dir/rogue-client.pem" >/dev/null 2>&1 || return 1
}

# P-256 keys: quick to make, and accepted by every client we use (rustls in the Temporal SDK core,
# Go in the Temporal CLI and MinIO, OpenSSL in Node, curl, Python and haproxy).
new_key() { (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null); }

new_ca() {
  local name="$1" subject="$2"
  new_key "$dir/$name-key.pem"
  openssl req -x509 -new -key "$dir/$name-key.pem" -sha256 -days "$DAYS" -subj "$subject" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/$name.pem" 2>/dev/null
}

# Signs a leaf certificate: new_leaf NAME CA SUBJECT EXTENSIONS
new_leaf() {
  local name="$1" ca="$2" subject="$3" extensions="$4" ext_file
  new_key "$dir/$name-key.pem"
  ext_file="$(mktemp)"
  printf '%s\n' "$extensions" >"$ext_file"
  openssl req -new -key "$dir/$name-key.pem" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca-key.pem" -CAcreateserial \
    -sha256 -days "$DAYS" -extfile "$ext_file" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$ext_file" "$dir/$name.csr"
}

if existing_set_is_usable; then
  log "reusing the stack's test certificates in $dir"
  exit 0
fi

log "making the stack's test certificates in $dir"
rm -f "$dir"/*.pem "$dir"/*.srl
LEAF_COMMON="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
authorityKeyIdentifier=keyid"
new_ca ca "/O=onnx-export-pipeline/CN=onnx-export-pipeline test CA"
new_leaf server ca "/O=onnx-export-pipeline/CN=localhost" "$LEAF_COMMON
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
new_leaf client ca "/O=onnx-export-pipeline/CN=onnx-export-pipeline worker" "$LEAF_COMMON
extendedKeyUsage=clientAuth"
new_ca rogue-ca "/O=somebody else/CN=rogue test CA"
new_leaf rogue-client rogue-ca "/O=somebody else/CN=onnx-export-pipeline worker" "$LEAF_COMMON
extendedKeyUsage=clientAuth"
(umask 077 && cat "$dir/server.pem" "$dir/server-key.pem" >"$dir/server-bundle.pem")
rm -f "$dir"/*.srl
chmod 0600 "$dir"/*-key.pem "$dir/server-bundle.pem"
chmod 0644 "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem" "$dir/rogue-ca.pem" "$dir/rogue-client.pem"
openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem" >/dev/null \
  || die "the certificates just made in $dir do not verify against their CA"
