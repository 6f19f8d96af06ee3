// Command xdsclient is the suite's synthetic proxy for kwok mode: it connects to an external
// istiod as an injected sidecar would and writes the xDS it receives as JSON.
//
// A kwok pod has no container runtime, so no Envoy runs in it. This client stands in for the
// sidecar's istio-agent + Envoy on the control-plane side only: it authenticates with the
// pod's service-account token, gets a workload certificate from istiod's CA (the same CSR
// istio-agent sends), then opens the ADS stream over mTLS with the node identity and metadata
// of the injected sidecar, so istiod tracks it in syncz and pushes it CDS and EDS. It sends
// no traffic and proves nothing about Envoy itself.
//
// Like istio-agent (pkg/istio-agent/xds_proxy.go, buildUpstreamClientDialOpts and the ClusterID
// metadata of its upstream stream), it also sends the pod's token and cluster ID on the ADS
// stream: where a gateway terminates TLS in front of istiod (dns-tls), the workload
// certificate never reaches istiod, and the token is what authenticates the proxy.
//
// It is built from Istio's own packages (pkg/adsc, the Citadel client) at the same Istio
// source as the pilot-discovery it talks to; see programs/xds_client.py for the build.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	pstruct "google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/nodeagent/caclient"
	"istio.io/istio/security/pkg/nodeagent/caclient/providers/citadel"
	pkiutil "istio.io/istio/security/pkg/pki/util"
)

type options struct {
	address, san, rootCert, tokenFile, clusterID, namespace, serviceAccount string
	podName, podIP, metaFile, outFile, certDir, nodeType                    string
	timeout                                                                 time.Duration
	hold                                                                    bool
}

// tokenFile hands the pod's projected token to the Citadel client as istio-agent does.
type tokenFile string

func (t tokenFile) GetPlatformCredential() (string, error) {
	data, err := os.ReadFile(string(t))
	return strings.TrimSpace(string(data)), err
}
func (tokenFile) GetIdentityProvider() string { return "" }
func (tokenFile) Stop()                       {}

func main() {
	var o options
	flag.StringVar(&o.address, "address", "", "istiod's secure xDS and CA address, host:15012")
	flag.StringVar(&o.san, "san", "", "expected server name of istiod's certificate (default: the address host)")
	flag.StringVar(&o.rootCert, "root-cert", "", "PEM file of the mesh root (istio-ca-root-cert)")
	flag.StringVar(&o.tokenFile, "token-file", "", "file holding the pod's service-account token")
	flag.StringVar(&o.clusterID, "cluster-id", "", "the pod's cluster ID (ISTIO_META_CLUSTER_ID)")
	flag.StringVar(&o.namespace, "namespace", "", "the pod's namespace")
	flag.StringVar(&o.serviceAccount, "service-account", "", "the pod's service account")
	flag.StringVar(&o.podName, "pod-name", "", "the pod's name")
	flag.StringVar(&o.podIP, "pod-ip", "", "the pod's IP (the proxy's node IP)")
	flag.StringVar(&o.nodeType, "node-type", "sidecar", "the proxy type: sidecar, or router for a gateway")
	flag.StringVar(&o.metaFile, "metadata", "", "JSON file: the node metadata from the injected sidecar's environment")
	flag.StringVar(&o.outFile, "out", "", "JSON file the received xDS is written to (rewritten on every update)")
	flag.StringVar(&o.certDir, "cert-dir", "", "private directory for the workload key and certificate")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "deadline for the certificate and the first CDS/EDS")
	flag.BoolVar(&o.hold, "hold", false, "stay connected (and keep -out current) until SIGTERM")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "xdsclient:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	for name, value := range map[string]string{"address": o.address, "root-cert": o.rootCert,
		"token-file": o.tokenFile, "cluster-id": o.clusterID, "namespace": o.namespace,
		"service-account": o.serviceAccount, "pod-name": o.podName, "pod-ip": o.podIP,
		"out": o.outFile, "cert-dir": o.certDir} {
		if value == "" {
			return fmt.Errorf("-%s is required", name)
		}
	}
	spiffe, err := fetchCertificate(o)
	if err != nil {
		return err
	}
	meta, err := nodeMetadata(o.metaFile)
	if err != nil {
		return err
	}
	client, err := adsc.New(o.address, &adsc.ADSConfig{
		Config: adsc.Config{
			ClientName: o.podName, XDSSAN: o.san, Namespace: o.namespace, Workload: o.podName,
			IP: o.podIP, Meta: meta, CertDir: o.certDir, XDSRootCAFile: o.rootCert,
			NodeType: model.NodeType(o.nodeType),
			GrpcOpts: []grpc.DialOption{
				grpc.WithPerRPCCredentials(caclient.NewDefaultTokenProvider(&security.Options{CredFetcher: tokenFile(o.tokenFile)})),
				grpc.WithStreamInterceptor(withClusterID(o.clusterID)),
			},
		},
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}, {TypeUrl: v3.ListenerType}},
	})
	if err != nil {
		return fmt.Errorf("dial %s: %v", o.address, err)
	}
	defer client.Close()
	if err := client.Run(); err != nil {
		return fmt.Errorf("open the ADS stream: %v", err)
	}
	if _, err := client.Wait(o.timeout, v3.ClusterType, v3.EndpointType); err != nil {
		return fmt.Errorf("no CDS and EDS from %s within %s: %v", o.address, o.timeout, err)
	}
	// adsc keeps only the last EDS response, but istiod pushes EDS per changed cluster (an
	// update names only those): the client keeps every cluster's latest assignment itself,
	// taken from each response in order.
	eds := map[string]*endpoint.ClusterLoadAssignment{}
	for drained := false; !drained; {
		select {
		case msg := <-client.XDSUpdates:
			merge(eds, msg)
		default:
			drained = true
		}
	}
	if err := write(o.outFile, snapshot(client, spiffe, eds)); err != nil {
		return err
	}
	fmt.Println("synced")
	if !o.hold {
		return nil
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	for {
		select {
		case <-stop:
			return nil
		case msg := <-client.XDSUpdates:
			if msg == nil {
				return fmt.Errorf("the ADS stream to %s closed", o.address)
			}
			if merge(eds, msg) {
				if err := write(o.outFile, snapshot(client, spiffe, eds)); err != nil {
					return err
				}
			}
		}
	}
}

// withClusterID adds the "ClusterID" metadata istio-agent sends on its ADS stream: istiod
// reviews the token with the API server of that cluster.
func withClusterID(clusterID string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
		streamer grpc.Streamer, opts ...grpc.CallOption,
	) (grpc.ClientStream, error) {
		return streamer(metadata.AppendToOutgoingContext(ctx, "ClusterID", clusterID), desc, cc, method, opts...)
	}
}

// merge takes the cluster load assignments of an EDS response into eds; it says whether the
// response was CDS or EDS (what the output file shows).
func merge(eds map[string]*endpoint.ClusterLoadAssignment, msg *discovery.DiscoveryResponse) bool {
	if msg == nil {
		return false
	}
	switch msg.GetTypeUrl() {
	case v3.EndpointType:
		for _, resource := range msg.GetResources() {
			cla := &endpoint.ClusterLoadAssignment{}
			if err := resource.UnmarshalTo(cla); err == nil {
				eds[cla.GetClusterName()] = cla
			}
		}
		return true
	case v3.ClusterType:
		return true
	}
	return false
}

// fetchCertificate sends the CSR istio-agent sends and keeps the key and chain for mTLS.
func fetchCertificate(o options) (string, error) {
	spiffe := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", o.namespace, o.serviceAccount)
	csr, key, err := pkiutil.GenCSR(pkiutil.CertOptions{Host: spiffe, RSAKeySize: 2048})
	if err != nil {
		return "", fmt.Errorf("generate CSR: %v", err)
	}
	ca, err := citadel.NewCitadelClient(&security.Options{
		CAEndpoint: o.address, CAEndpointSAN: o.san, ClusterID: o.clusterID,
		CredFetcher: tokenFile(o.tokenFile),
	}, &citadel.TLSOptions{RootCert: o.rootCert})
	if err != nil {
		return "", err
	}
	defer ca.Close()
	var chain []string
	deadline := time.Now().Add(o.timeout)
	for {
		chain, err = ca.CSRSign(csr, int64((24 * time.Hour).Seconds()))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return "", fmt.Errorf("workload certificate from %s: %v", o.address, err)
	}
	if err := os.MkdirAll(o.certDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(o.certDir, "key.pem"), key, 0o600); err != nil {
		return "", err
	}
	return spiffe, os.WriteFile(filepath.Join(o.certDir, "cert-chain.pem"), []byte(strings.Join(chain, "")), 0o600)
}

func nodeMetadata(path string) (*pstruct.Struct, error) {
	fields := map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &fields); err != nil {
			return nil, fmt.Errorf("metadata %s: %v", path, err)
		}
	}
	return pstruct.NewStruct(fields)
}

type lbEndpoint struct {
	Address  string          `json:"address"`
	Port     uint32          `json:"port"`
	Weight   uint32          `json:"weight"`
	Locality string          `json:"locality"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

type output struct {
	Identity string   `json:"identity"`
	Clusters []string `json:"clusters"`
	// Cluster name -> its discovery type (EDS, STATIC, ORIGINAL_DST, STRICT_DNS, ...).
	ClusterTypes map[string]string `json:"cluster_types"`
	// Cluster name -> endpoints: from EDS, or inline in CDS (load_assignment) for other types.
	Endpoints map[string][]lbEndpoint `json:"endpoints"`
	Time      string                  `json:"time"`
}

func snapshot(client *adsc.ADSC, spiffe string, eds map[string]*endpoint.ClusterLoadAssignment) output {
	out := output{
		Identity: spiffe, ClusterTypes: map[string]string{}, Endpoints: map[string][]lbEndpoint{},
		Time: time.Now().UTC().Format(time.RFC3339),
	}
	for name := range client.GetEdsClusters() {
		out.Clusters = append(out.Clusters, name)
		out.ClusterTypes[name] = "EDS"
		if assignment, ok := eds[name]; ok {
			out.Endpoints[name] = endpoints(assignment)
		}
	}
	for name, c := range client.GetClusters() {
		out.Clusters = append(out.Clusters, name)
		out.ClusterTypes[name] = c.GetType().String()
		if c.GetLoadAssignment() != nil {
			out.Endpoints[name] = endpoints(c.GetLoadAssignment())
		}
	}
	sort.Strings(out.Clusters)
	return out
}

func endpoints(assignment *endpoint.ClusterLoadAssignment) []lbEndpoint {
	var list []lbEndpoint
	for _, group := range assignment.GetEndpoints() {
		for _, lb := range group.GetLbEndpoints() {
			socket := lb.GetEndpoint().GetAddress().GetSocketAddress()
			entry := lbEndpoint{
				Address: socket.GetAddress(), Port: socket.GetPortValue(),
				Weight: lb.GetLoadBalancingWeight().GetValue(), Locality: locality(group.GetLocality()),
			}
			if lb.GetMetadata() != nil {
				entry.Metadata, _ = protojson.Marshal(lb.GetMetadata())
			}
			list = append(list, entry)
		}
	}
	return list
}

func locality(l *core.Locality) string {
	return strings.Trim(strings.Join([]string{l.GetRegion(), l.GetZone(), l.GetSubZone()}, "/"), "/")
}

// write replaces the file atomically so a reader never sees half a document.
func write(path string, out output) error {
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".partial"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
