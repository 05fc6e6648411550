/* C equivalent of the generated open_rules policies on tracepoint
 * syscalls/sys_enter_openat: rule i reports an open of
 * /srv/polc-bench/rule-<i> by a user other than root; the first rule that
 * matches decides. The harness generates open_rules.h (N_RULES) and
 * open_rules.inc (one RULE(id, "path") line per rule). */
#include "open_rules.h"
#include "bench.h"

struct record {
	struct header h;
	u64 uid;
	char path[256];
};

SCRATCH_MAP(struct record);

SEC("tracepoint/syscalls/sys_enter_openat")
int file_open(struct trace_event_raw_sys_enter *ctx)
{
	u32 zero = 0;
	struct record *r;
	u32 rule, uid;
	long len;

	if (!in_scope())
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = str_len(bpf_probe_read_user_str(r->path, sizeof(r->path), (const char *)ctx->args[1]),
		      r->path);
	uid = (u32)bpf_get_current_uid_gid();
#define RULE(rule_id, lit)                                                                \
	if (STR_EQ(r->path, len, lit) && uid != 0) {                                       \
		rule = rule_id;                                                            \
		goto matched;                                                              \
	}
#include "open_rules.inc"
#undef RULE
	return 0;
matched:
	r->uid = uid;
	return enforce_by_signal(decide(r, sizeof(*r), rule, V_AUDIT));
}
