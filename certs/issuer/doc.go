// Package issuer is Mercato's local SPIFFE issuer: it plays the part a SPIRE
// agent plays in deployment, so that services and Envoy cannot tell the two
// apart.
//
// One unix socket serves both the SPIFFE Workload API (FetchX509SVID and
// FetchX509Bundles; the JWT methods answer Unimplemented) and Envoy's Secret
// Discovery Service (StreamSecrets and FetchSecrets, with the workload's
// certificate under the secret name "default" and the trust bundle under
// "ROOTCA"). Workload API calls must carry the "workload.spiffe.io: true"
// metadata; SDS calls need none.
//
// Every caller is attested from the socket itself: SO_PEERCRED gives its pid,
// uid and gid, and /proc/<pid>/exe its executable. What the caller runs is
// recorded when its connection is accepted (executable path, device and
// inode, effective uid and gid, and a pidfd on the process); every call on
// the connection is refused once any of these has changed or the process is
// gone, so a connection handed to another process is worth nothing after
// the process that made it execs. A caller receives the
// SVIDs of every registration [Entry] whose selectors all match it
// ("unix:path:bin/orders", "unix:uid:1000", "unix:gid:1000"), the first
// matching entry being its default; a caller matching none is refused with
// PermissionDenied, as SPIRE refuses it.
//
// The issuer holds its own CA (persisted under Config.StateDir, or in memory)
// and issues short-lived ECDSA P-256 X.509-SVIDs, renewed on every open
// stream at half their lifetime. [Issuer.RotateCA] publishes a new root at
// once, signs with it only once at least one SVID lifetime has passed, and
// drops the old root only after the last SVID it signed has expired. The CA
// also rotates by itself at two thirds of its lifetime.
package issuer
