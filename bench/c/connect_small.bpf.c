/* C equivalent of bench/pol/connect_small.pol on cgroup/connect4 (the
 * IPv4 program of polc's net.connect cgroup backend). */
#define N_RULES 3
#include "bench.h"

struct record {
	struct header h;
	u32 daddr;
	u16 dport;
	u16 pad;
};

SCRATCH_MAP(struct record);

/* Network byte order address in a /prefix network given in host order. */
static __always_inline bool in_net(u32 addr_be, u32 net, int prefix)
{
	u32 mask = prefix ? ~0u << (32 - prefix) : 0;

	return (bpf_ntohl(addr_be) & mask) == net;
}

static __always_inline bool is_private(u32 addr_be)
{
	return in_net(addr_be, 0x0a000000, 8) || in_net(addr_be, 0xac100000, 12) ||
	       in_net(addr_be, 0xc0a80000, 16) || in_net(addr_be, 0x7f000000, 8);
}

SEC("cgroup/connect4")
int net_connect(struct bpf_sock_addr *ctx)
{
	u32 zero = 0;
	struct record *r;
	char comm[16];
	u16 port;
	int verdict;

	if (!in_scope())
		return 1;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 1;
	bpf_get_current_comm(comm, sizeof(comm));
	if (COMM_EQ(comm, "postfix") || COMM_EQ(comm, "smtpd"))
		return 1;
	port = bpf_ntohs(ctx->user_port);
	r->daddr = ctx->user_ip4;
	r->dport = port;
	if ((port == 25 || port == 465 || port == 587 || port == 3389) && !is_private(r->daddr))
		verdict = decide(r, sizeof(*r), 1, V_AUDIT);
	else if (port == 23)
		verdict = decide(r, sizeof(*r), 2, V_AUDIT);
	else
		return 1;
	/* A cgroup program refuses with 0. */
	return verdict == V_DENY || verdict == V_KILL ? 0 : 1;
}
