package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// root is the repository root, relative to this package.
const root = ".."

// scheme knows every kind Mercato's manifests may use; anything else is an error.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, storagev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strict is the API server's own YAML decoder in strict mode: an unknown or duplicated field is
// an error, as `kubectl apply --validate=strict` makes it.
var strict = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// decode decodes one YAML document into its typed k8s.io/api object.
func decode(doc []byte) (runtime.Object, error) {
	obj, _, err := strict.Decode(doc, nil, nil)
	return obj, err
}

// splitYAML splits a multi-document YAML stream, dropping empty and comment-only documents.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		meaningful := false
		for _, line := range strings.Split(string(doc), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				meaningful = true
			}
		}
		if meaningful {
			docs = append(docs, doc)
		}
	}
	return docs
}

// manifestDirs are the folders holding Kubernetes manifests.
var manifestDirs = []string{
	"services/customers/k8s", "services/inventory/k8s", "services/orders/k8s",
	"services/payments/k8s", "services/notifications/k8s", "xds/k8s", "edge/k8s",
	"broker/k8s", "certs/spire/k8s", "deploy/k8s/base", "deploy/k8s/overlays/local",
}

// manifestFiles lists every Kubernetes manifest file (kustomization.yaml excluded).
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range manifestDirs {
		matches, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(matches) == 0 {
			t.Errorf("%s: no manifests", dir)
		}
		for _, m := range matches {
			if filepath.Base(m) != "kustomization.yaml" {
				files = append(files, m)
			}
		}
	}
	return files
}

// build runs kustomize on a kustomization of deploy/k8s, with the default load restrictions
// (`kubectl apply -k` applies the same), and decodes every resource strictly.
func build(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if objs, ok := builds[dir]; ok {
		return objs
	}
	objs := kustomizeBuild(t, dir)
	builds[dir] = objs
	return objs
}

var (
	buildsMu sync.Mutex
	builds   = map[string][]runtime.Object{}
)

func kustomizeBuild(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	path, err := filepath.Abs(filepath.Join("k8s", dir))
	if err != nil {
		t.Fatal(err)
	}
	resMap, err := k.Run(filesys.MakeFsOnDisk(), path)
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s/%s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for i, doc := range splitYAML(out) {
		obj, err := decode(doc)
		if err != nil {
			t.Fatalf("deploy/k8s/%s: resource %d does not decode strictly: %v\n%s", dir, i, err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

// objects filters objects by type.
func objects[T runtime.Object](objs []runtime.Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// workload is a pod template with the name and namespace of what runs it.
type workload struct {
	Kind, Name, Namespace string
	Replicas              int32
	Pod                   corev1.PodTemplateSpec
}

func (w workload) String() string { return fmt.Sprintf("%s %s/%s", w.Kind, w.Namespace, w.Name) }

// workloads are the Deployments, StatefulSets and DaemonSets among objs.
func workloads(objs []runtime.Object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{"Deployment", v.Name, v.Namespace, deref(v.Spec.Replicas), v.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, workload{"StatefulSet", v.Name, v.Namespace, deref(v.Spec.Replicas), v.Spec.Template})
		case *appsv1.DaemonSet:
			out = append(out, workload{"DaemonSet", v.Name, v.Namespace, -1, v.Spec.Template})
		}
	}
	return out
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
