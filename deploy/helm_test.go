package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const chart = "helm/pkgstore"

// rendered are the objects of one `helm template`, by kind and name.
type rendered struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	claims       map[string]*corev1.PersistentVolumeClaim
	accounts     map[string]*corev1.ServiceAccount
	autoscalers  map[string]*autoscalingv2.HorizontalPodAutoscaler
	cronJobs     map[string]*batchv1.CronJob
	podTemplates []*corev1.PodSpec
}

func runHelm(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, "helm"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// render runs helm template with a values file and decodes every
// manifest strictly (an unknown field is an error) into its k8s.io/api
// type; a kind the test does not know fails.
func render(t *testing.T, values string) *rendered {
	t.Helper()
	out := runHelm(t, "template", "reg", chart, "--namespace", "fleet", "-f", values)
	r := &rendered{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, claims: map[string]*corev1.PersistentVolumeClaim{},
		accounts: map[string]*corev1.ServiceAccount{}, autoscalers: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		cronJobs: map[string]*batchv1.CronJob{}}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v\n%s", values, err, doc)
		}
		strict := func(into any) {
			if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
				t.Fatalf("%s: %s %s: %v\n%s", values, meta.Kind, meta.Metadata.Name, err, doc)
			}
		}
		name := meta.Metadata.Name
		switch meta.Kind {
		case "Deployment":
			o := &appsv1.Deployment{}
			strict(o)
			r.deployments[name] = o
			r.podTemplates = append(r.podTemplates, &o.Spec.Template.Spec)
		case "Service":
			o := &corev1.Service{}
			strict(o)
			r.services[name] = o
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			strict(o)
			r.configMaps[name] = o
		case "PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			strict(o)
			r.claims[name] = o
		case "ServiceAccount":
			o := &corev1.ServiceAccount{}
			strict(o)
			r.accounts[name] = o
		case "HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			strict(o)
			r.autoscalers[name] = o
		case "CronJob":
			o := &batchv1.CronJob{}
			strict(o)
			r.cronJobs[name] = o
			r.podTemplates = append(r.podTemplates, &o.Spec.JobTemplate.Spec.Template.Spec)
		default:
			t.Fatalf("%s: unexpected kind %q", values, meta.Kind)
		}
	}
	return r
}

// checkPods: every pod runs the image as uid 1000, read-only, without
// privileges, with its serve.yml mounted; serving pods are ready on /health.
func (r *rendered) checkPods(t *testing.T) {
	t.Helper()
	for _, p := range r.podTemplates {
		if p.SecurityContext == nil || p.SecurityContext.RunAsUser == nil || *p.SecurityContext.RunAsUser != 1000 || !*p.SecurityContext.RunAsNonRoot {
			t.Errorf("pod security context %+v", p.SecurityContext)
		}
		c := p.Containers[0]
		if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
			t.Errorf("container security context %+v", sc)
		}
		if len(c.Args) < 2 || c.Args[0] != "pkgstore" {
			t.Errorf("args %q: want pkgstore's own commands", c.Args)
		}
		if c.Args[1] == "serve" {
			if !slices.Equal(c.Args, []string{"pkgstore", "serve", "--config", "/etc/pkgstore/serve.yml"}) {
				t.Errorf("serve args %q", c.Args)
			}
			mounted := false
			for _, m := range c.VolumeMounts {
				mounted = mounted || m.MountPath == "/etc/pkgstore"
			}
			if !mounted {
				t.Error("serve.yml is not mounted")
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/health" {
				t.Errorf("serve container without readiness on /health: %+v", c.ReadinessProbe)
			}
		}
	}
}

// selects reports whether svc selects the pods of d.
func selects(svc *corev1.Service, d *appsv1.Deployment) bool {
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			return false
		}
	}
	return len(svc.Spec.Selector) > 0
}

func serveYAML(t *testing.T, r *rendered, name string) map[string]any {
	t.Helper()
	cm, ok := r.configMaps[name]
	if !ok {
		t.Fatalf("no ConfigMap %s", name)
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["serve.yml"]), &m); err != nil {
		t.Fatalf("%s serve.yml: %v", name, err)
	}
	return m
}

func TestHelmChart(t *testing.T) {
	runHelm(t, "lint", "--strict", chart)
	examples, err := filepath.Glob("helm/examples/*.yaml")
	if err != nil || len(examples) != 3 {
		t.Fatalf("examples: %q %v", examples, err)
	}
	for _, ex := range examples {
		runHelm(t, "lint", "--strict", chart, "-f", ex)
	}

	t.Run("all-in-one", func(t *testing.T) {
		r := render(t, "helm/examples/all-in-one.yaml")
		r.checkPods(t)
		d := r.deployments["reg-pkgstore-registry"]
		if d == nil || *d.Spec.Replicas != 1 || len(r.deployments) != 1 {
			t.Fatalf("deployments %v", keys(r.deployments))
		}
		if _, ok := r.claims["reg-pkgstore"]; !ok {
			t.Error("no PersistentVolumeClaim")
		}
		if !selects(r.services["reg-pkgstore"], d) {
			t.Error("the service does not select the registry")
		}
		cfg := serveYAML(t, r, "reg-pkgstore-writer")
		if cfg["data"] != "/data" || cfg["addr"] != "0.0.0.0:8080" || cfg["read-only"] != nil {
			t.Errorf("serve.yml %v", cfg)
		}
		if len(r.cronJobs) != 0 || len(r.autoscalers) != 0 {
			t.Error("all-in-one renders jobs or an autoscaler")
		}
	})
	t.Run("writer and replicas", func(t *testing.T) {
		r := render(t, "helm/examples/writer-replicas-gcs.yaml")
		r.checkPods(t)
		w, rep := r.deployments["reg-pkgstore-writer"], r.deployments["reg-pkgstore-replica"]
		if w == nil || rep == nil {
			t.Fatalf("deployments %v", keys(r.deployments))
		}
		if rep.Spec.Replicas != nil {
			t.Error("the autoscaled replicas have a fixed replica count")
		}
		hpa := r.autoscalers["reg-pkgstore-replica"]
		if hpa == nil || hpa.Spec.ScaleTargetRef.Name != rep.Name || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 10 {
			t.Errorf("autoscaler %+v", hpa)
		}
		if !selects(r.services["reg-pkgstore"], rep) || selects(r.services["reg-pkgstore"], w) {
			t.Error("the registry service must select the replicas only")
		}
		if !selects(r.services["reg-pkgstore-writer"], w) {
			t.Error("the writer service does not select the writer")
		}
		if cfg := serveYAML(t, r, "reg-pkgstore-replica"); cfg["read-only"] != true || cfg["public-bucket"] != "gs://example-package-storage-public" {
			t.Errorf("replica serve.yml %v", cfg)
		}
		if cfg := serveYAML(t, r, "reg-pkgstore-writer"); cfg["read-only"] != nil || cfg["internal-bucket"] != "gs://example-package-storage-internal" {
			t.Errorf("writer serve.yml %v", cfg)
		}
		if sa := r.accounts["reg-pkgstore"]; sa == nil || sa.Annotations["iam.gke.io/gcp-service-account"] == "" {
			t.Errorf("service account %+v", sa)
		}
	})
	t.Run("buckets and jobs", func(t *testing.T) {
		r := render(t, "helm/examples/jobs-s3.yaml")
		r.checkPods(t)
		if _, ok := r.deployments["reg-pkgstore-writer"]; ok || len(r.autoscalers) != 0 {
			t.Error("writer or autoscaler rendered")
		}
		if rep := r.deployments["reg-pkgstore-replica"]; rep == nil || *rep.Spec.Replicas != 3 {
			t.Fatalf("replicas %v", keys(r.deployments))
		}
		for name, want := range map[string][]string{
			"reg-pkgstore-publish": {"pkgstore", "job", "publish", "--public-bucket", "s3://example-public?region=eu-west-1", "--internal-bucket", "s3://example-internal?region=eu-west-1", "--keyring", "/etc/pkgstore/keyring.asc"},
			"reg-pkgstore-index":   {"pkgstore", "job", "index", "--public-bucket", "s3://example-public?region=eu-west-1", "--internal-bucket", "s3://example-internal?region=eu-west-1"},
		} {
			cj := r.cronJobs[name]
			if cj == nil {
				t.Fatalf("no CronJob %s in %v", name, keys(r.cronJobs))
			}
			if got := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, want) {
				t.Errorf("%s args %q, want %q", name, got, want)
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s concurrency %q", name, cj.Spec.ConcurrencyPolicy)
			}
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, set := range []string{"mode=both", "mode=buckets"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			out, err := exec.CommandContext(ctx, tool(t, "helm"), "template", "reg", chart, "--set", set).CombinedOutput()
			cancel()
			if err == nil {
				t.Errorf("--set %s rendered", set)
			} else if !strings.Contains(string(out), "mode") {
				t.Errorf("--set %s: %s", set, out)
			}
		}
	})
}

func keys[V any](m map[string]V) string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return fmt.Sprint(k)
}
