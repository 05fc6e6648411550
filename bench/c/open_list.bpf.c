/* C equivalent of the generated open_list policies on tp_btf/sys_exit (the
 * program polc's file.open tp_btf backend runs: an open that returned a
 * file, the path as the kernel resolved it): one rule reports an open of any path in a list
 * of N_ELEMS paths. Up to INLINE_MAX paths are compared inline (one
 * ELEM("path") line each in open_list.inc), more are a hash map keyed by the
 * NUL-padded path (KEY_LEN bytes), filled by the loader. The harness
 * generates open_list.h and open_list.inc. */
#include "open_list.h"
#define N_RULES 1
#include "bench.h"

struct record {
	struct header h;
	char path[256];
};

SCRATCH_MAP(struct record);

#if N_ELEMS > INLINE_MAX
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, N_ELEMS);
	__uint(key_size, KEY_LEN);
	__uint(value_size, 1);
} watched SEC(".maps");
#endif

static __always_inline bool is_watched(char *path, long len)
{
#if N_ELEMS > INLINE_MAX
	/* The key is the path zero-padded to KEY_LEN bytes: longer paths
	 * cannot be in the map. */
	return len < KEY_LEN && bpf_map_lookup_elem(&watched, path);
#else
#define ELEM(lit) STR_EQ(path, len, lit) ||
return
#include "open_list.inc"
#undef ELEM
		false;
#endif
}

SEC("tp_btf/sys_exit")
int BPF_PROG(file_open, struct pt_regs *regs, long ret)
{
	struct file *file;
	u32 zero = 0;
	struct record *r;
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
#if N_ELEMS > INLINE_MAX
	/* bpf_probe_read_user_str does not pad: clear what the key covers. */
	__builtin_memset(r->path, 0, KEY_LEN);
#endif
	len = str_len(resolve_path(file, r->path) + 1, r->path);
	if (is_watched(r->path, len))
		return enforce_by_signal(decide(r, sizeof(*r), 0, V_AUDIT));
	return 0;
}
