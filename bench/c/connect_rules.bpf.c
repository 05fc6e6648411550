/* C equivalent of the generated connect_rules policies on cgroup/connect4:
 * rule i reports a connect to port 20000 + i; the first rule that matches
 * decides. The harness generates connect_rules.h (N_RULES) and
 * connect_rules.inc (one RULE(id, port) line per rule). */
#include "connect_rules.h"
#include "bench.h"

struct record {
	struct header h;
	u32 daddr;
	u16 dport;
	u16 pad;
};

SCRATCH_MAP(struct record);

SEC("cgroup/connect4")
int net_connect(struct bpf_sock_addr *ctx)
{
	u32 zero = 0;
	struct record *r;
	u32 rule;
	u16 port;
	int verdict;

	if (!in_scope())
		return 1;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 1;
	port = bpf_ntohs(ctx->user_port);
#define RULE(rule_id, p)                                                                  \
	if (port == p) {                                                                   \
		rule = rule_id;                                                            \
		goto matched;                                                              \
	}
#include "connect_rules.inc"
#undef RULE
	return 1;
matched:
	r->daddr = ctx->user_ip4;
	r->dport = port;
	verdict = decide(r, sizeof(*r), rule, V_AUDIT);
	/* A cgroup program refuses with 0. */
	return verdict == V_DENY || verdict == V_KILL ? 0 : 1;
}
