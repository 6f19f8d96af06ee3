// Command xdsclient is the suite's synthetic proxy for kwok mode: it connects to an external
// istiod as an injected sidecar would and writes the xDS it receives as an Envoy config dump.
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
//
// The output has the shape of Envoy's admin /config_dump?include_eds (envoy.admin.v3.ConfigDump
// with proto field names): the bootstrap node, every cluster, listener, route configuration and
// cluster load assignment exactly as istiod sent them, so the suite judges it with the same code
// as a real sidecar's dump. Unlike Envoy's own dump (built from its host sets), the endpoints are
// the ones received, duplicates included.
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

	admin "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	bootstrap "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	pstruct "google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
	// Registers every Envoy extension type istiod may put in a typed_config, so the dump can
	// be written as JSON (as istiod's own debug endpoints do).
	_ "istio.io/istio/pkg/config/xds"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/nodeagent/caclient"
	"istio.io/istio/security/pkg/nodeagent/caclient/providers/citadel"
	pkiutil "istio.io/istio/security/pkg/pki/util"
)

type options struct {
	address, san, rootCert, tokenFile, clusterID, namespace, serviceAccount string
	podName, podIP, metaFile, outFile, certDir, nodeType, eventsFile        string
	timeout, retry                                                          time.Duration
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
	flag.StringVar(&o.eventsFile, "events", "", "JSON-lines file: every ADS stream opened, retry and CDS/EDS response (streams.go)")
	flag.DurationVar(&o.retry, "retry-interval", 500*time.Millisecond, "how long to wait before reconnecting after a stream broke")
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
	if _, err := fetchCertificate(o); err != nil {
		return err
	}
	meta, err := nodeMetadata(o.metaFile)
	if err != nil {
		return err
	}
	events, err := openStreamLog(o.eventsFile)
	if err != nil {
		return err
	}
	config := &adsc.ADSConfig{
		Config: adsc.Config{
			ClientName: o.podName, XDSSAN: o.san, Namespace: o.namespace, Workload: o.podName,
			IP: o.podIP, Meta: meta, CertDir: o.certDir, XDSRootCAFile: o.rootCert,
			NodeType:      model.NodeType(o.nodeType),
			BackoffPolicy: fixedRetry{interval: o.retry, log: events},
			GrpcOpts: []grpc.DialOption{
				grpc.WithPerRPCCredentials(caclient.NewDefaultTokenProvider(&security.Options{CredFetcher: tokenFile(o.tokenFile)})),
				grpc.WithStreamInterceptor(withClusterID(o.clusterID)),
				// gRPC's own reconnect backoff of the connection (1 s growing to 120 s by default)
				// at the same constant interval.
				grpc.WithConnectParams(grpc.ConnectParams{
					Backoff:           grpcbackoff.Config{BaseDelay: o.retry, Multiplier: 1, MaxDelay: o.retry},
					MinConnectTimeout: 5 * time.Second,
				}),
			},
		},
		InitialDiscoveryRequests: []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}, {TypeUrl: v3.ListenerType}},
	}
	if events != nil {
		config.ResponseHandler = events
	}
	client, err := adsc.New(o.address, config)
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
	// adsc keeps only the last EDS and RDS response, but istiod pushes those per changed
	// resource (an update names only those, and Envoy keeps the others): the client keeps its
	// own state, taken from each response in order, as Envoy would.
	state := newXDSState(o, meta)
	for drained := false; !drained; {
		select {
		case msg := <-client.XDSUpdates:
			state.merge(msg)
		default:
			drained = true
		}
	}
	if err := state.write(o.outFile); err != nil {
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
			if state.merge(msg) {
				if err := state.write(o.outFile); err != nil {
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

// xdsState is what the proxy holds: CDS and LDS replace the whole set (istiod sends every
// cluster and listener each time), RDS and EDS update the resources a response names.
type xdsState struct {
	node      *core.Node
	versions  map[string]string
	clusters  []*cluster.Cluster
	listeners []*listener.Listener
	routes    map[string]*route.RouteConfiguration
	eds       map[string]*endpoint.ClusterLoadAssignment
}

func newXDSState(o options, meta *pstruct.Struct) *xdsState {
	return &xdsState{
		node: &core.Node{
			// The id istio-agent gives the sidecar: TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local.
			Id:       fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", o.nodeType, o.podIP, o.podName, o.namespace, o.namespace),
			Metadata: meta,
		},
		versions: map[string]string{},
		routes:   map[string]*route.RouteConfiguration{},
		eds:      map[string]*endpoint.ClusterLoadAssignment{},
	}
}

// merge takes a response into the state; it says whether the response was one the dump shows.
func (s *xdsState) merge(msg *discovery.DiscoveryResponse) bool {
	if msg == nil {
		return false
	}
	switch msg.GetTypeUrl() {
	case v3.ClusterType:
		s.clusters = unpack(msg, func() *cluster.Cluster { return &cluster.Cluster{} })
	case v3.ListenerType:
		s.listeners = unpack(msg, func() *listener.Listener { return &listener.Listener{} })
	case v3.RouteType:
		for _, r := range unpack(msg, func() *route.RouteConfiguration { return &route.RouteConfiguration{} }) {
			s.routes[r.GetName()] = r
		}
	case v3.EndpointType:
		for _, cla := range unpack(msg, func() *endpoint.ClusterLoadAssignment { return &endpoint.ClusterLoadAssignment{} }) {
			s.eds[cla.GetClusterName()] = cla
		}
	default:
		return false
	}
	s.versions[msg.GetTypeUrl()] = msg.GetVersionInfo()
	return true
}

func unpack[T proto.Message](msg *discovery.DiscoveryResponse, make func() T) []T {
	var out []T
	for _, resource := range msg.GetResources() {
		value := make()
		if err := resource.UnmarshalTo(value); err == nil {
			out = append(out, value)
		}
	}
	return out
}

// dump is the state as Envoy's admin /config_dump?include_eds shows it.
func (s *xdsState) dump() (*admin.ConfigDump, error) {
	clusters := &admin.ClustersConfigDump{VersionInfo: s.versions[v3.ClusterType]}
	for _, c := range sortedBy(s.clusters, func(c *cluster.Cluster) string { return c.GetName() }) {
		packed, err := anypb.New(c)
		if err != nil {
			return nil, err
		}
		clusters.DynamicActiveClusters = append(clusters.DynamicActiveClusters,
			&admin.ClustersConfigDump_DynamicCluster{VersionInfo: s.versions[v3.ClusterType], Cluster: packed})
	}
	listeners := &admin.ListenersConfigDump{VersionInfo: s.versions[v3.ListenerType]}
	for _, l := range sortedBy(s.listeners, func(l *listener.Listener) string { return l.GetName() }) {
		packed, err := anypb.New(l)
		if err != nil {
			return nil, err
		}
		listeners.DynamicListeners = append(listeners.DynamicListeners, &admin.ListenersConfigDump_DynamicListener{
			Name:        l.GetName(),
			ActiveState: &admin.ListenersConfigDump_DynamicListenerState{VersionInfo: s.versions[v3.ListenerType], Listener: packed},
		})
	}
	routes := &admin.RoutesConfigDump{}
	for _, name := range sortedKeys(s.routes) {
		packed, err := anypb.New(s.routes[name])
		if err != nil {
			return nil, err
		}
		routes.DynamicRouteConfigs = append(routes.DynamicRouteConfigs,
			&admin.RoutesConfigDump_DynamicRouteConfig{VersionInfo: s.versions[v3.RouteType], RouteConfig: packed})
	}
	endpoints := &admin.EndpointsConfigDump{}
	for _, name := range sortedKeys(s.eds) {
		packed, err := anypb.New(s.eds[name])
		if err != nil {
			return nil, err
		}
		endpoints.DynamicEndpointConfigs = append(endpoints.DynamicEndpointConfigs,
			&admin.EndpointsConfigDump_DynamicEndpointConfig{VersionInfo: s.versions[v3.EndpointType], EndpointConfig: packed})
	}
	out := &admin.ConfigDump{}
	for _, part := range []proto.Message{
		&admin.BootstrapConfigDump{Bootstrap: &bootstrap.Bootstrap{Node: s.node}}, clusters, listeners, routes, endpoints,
	} {
		packed, err := anypb.New(part)
		if err != nil {
			return nil, err
		}
		out.Configs = append(out.Configs, packed)
	}
	return out, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

func sortedBy[T any](items []T, name func(T) string) []T {
	out := append([]T(nil), items...)
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out
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

// write replaces the file atomically so a reader never sees half a document. Field names are
// the proto names, as in Envoy's own admin output.
func (s *xdsState) write(path string) error {
	dump, err := s.dump()
	if err != nil {
		return err
	}
	data, err := protojson.MarshalOptions{UseProtoNames: true, Multiline: true, Indent: "  "}.Marshal(dump)
	if err != nil {
		return fmt.Errorf("config dump as JSON: %v", err)
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
