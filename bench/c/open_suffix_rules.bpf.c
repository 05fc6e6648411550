/* C equivalent of the generated open_suffix_rules policies on tp_btf/sys_exit
 * (the program polc's file.open tp_btf backend runs: an open that returned a
 * file, the path as the kernel resolved it): rule i reports an open of a file
 * whose path ends with /suffix-<i>/polc-bench/target.conf by a user other
 * than 4242; the first rule that matches decides, each rule's suffix compared
 * in turn from the path's end. The harness generates open_suffix_rules.h
 * (N_RULES) and open_suffix_rules.inc (one RULE(id, "suffix") line per
 * rule). */
#include "open_suffix_rules.h"
#include "bench.h"

struct record {
	struct header h;
	u64 uid;
	char path[256];
};

SCRATCH_MAP(struct record);

SEC("tp_btf/sys_exit")
int BPF_PROG(file_open, struct pt_regs *regs, long ret)
{
	struct file *file;
	u32 zero = 0;
	struct record *r;
	u32 rule, uid;
	long len;

	if (ret < 0 || !is_open_call(regs->orig_ax))
		return 0;
	if (!in_scope())
		return 0;
	file = fd_file(ret);
	if (!file)
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	len = str_len(resolve_path(file, r->path) + 1, r->path);
	uid = (u32)bpf_get_current_uid_gid();
#define RULE(rule_id, lit)                                                                \
	if (STR_SUFFIX(r->path, len, lit) && uid != 4242) {                                       \
		rule = rule_id;                                                            \
		goto matched;                                                              \
	}
#include "open_suffix_rules.inc"
#undef RULE
	return 0;
matched:
	r->uid = uid;
	return enforce_by_signal(decide(r, sizeof(*r), rule, V_AUDIT));
}
