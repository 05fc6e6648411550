/* C equivalent of the generated connect_list policies on cgroup/connect4:
 * one rule reports a connect to any address in a list of N_ELEMS IPv4
 * networks. Up to INLINE_MAX networks are compared inline (one
 * ELEM(network, prefix) line each in connect_list.inc, the network in host
 * byte order), more are an LPM trie filled by the loader. The harness
 * generates connect_list.h and connect_list.inc. */
#include "connect_list.h"
#define N_RULES 1
#include "bench.h"

struct record {
	struct header h;
	u32 daddr;
	u16 dport;
	u16 pad;
};

SCRATCH_MAP(struct record);

#if N_ELEMS > INLINE_MAX
struct lpm_key {
	u32 prefixlen;
	u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, N_ELEMS);
	__type(key, struct lpm_key);
	__type(value, u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} nets SEC(".maps");
#endif

static __always_inline bool in_nets(u32 addr_be)
{
#if N_ELEMS > INLINE_MAX
	struct lpm_key key = { .prefixlen = 32, .addr = addr_be };

	return bpf_map_lookup_elem(&nets, &key);
#else
	u32 addr = bpf_ntohl(addr_be);
#define ELEM(net, prefix) (addr & (~0u << (32 - prefix))) == net ||
return
#include "connect_list.inc"
#undef ELEM
		false;
#endif
}

SEC("cgroup/connect4")
int net_connect(struct bpf_sock_addr *ctx)
{
	u32 zero = 0;
	struct record *r;
	int verdict;

	if (!in_scope())
		return 1;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 1;
	if (!in_nets(ctx->user_ip4))
		return 1;
	r->daddr = ctx->user_ip4;
	r->dport = bpf_ntohs(ctx->user_port);
	verdict = decide(r, sizeof(*r), 0, V_AUDIT);
	/* A cgroup program refuses with 0. */
	return verdict == V_DENY || verdict == V_KILL ? 0 : 1;
}
