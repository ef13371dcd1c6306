// Command etcd starts the etcd server from go.etcd.io/etcd/server/v3, at the
// version this Kubernetes release is tested with. The etcd repository's own
// main package lives in a module that cannot be required from elsewhere (it
// replaces its sub-modules with local paths), so this thin entry point hands
// the command line straight to the upstream etcdmain package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
