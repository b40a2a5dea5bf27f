// Reading a V8 CPU profile (node:inspector's Profiler.stop): how much time was spent under the functions of one file,
// callees included, and of that under some functions by name. For the benches; asserts nothing.

export interface CpuProfileNode {
  id: number
  callFrame: { functionName: string, url: string }
  children?: number[]
}

export interface CpuProfile {
  nodes: CpuProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** ms of the samples with a frame of a file matching `file` on their stack, and of those, ms with a frame named each of `names` */
export function timeUnder (profile: CpuProfile, file: RegExp, names: readonly string[] = []): { totalMs: number, byName: Record<string, number> } {
  const parent = new Map<number, number>()
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  let totalMs = 0
  const byName: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]))
  profile.samples.forEach((leaf, i) => {
    const stack: CpuProfileNode[] = []
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)
      if (node !== undefined) stack.push(node)
    }
    if (!stack.some((n) => file.test(n.callFrame.url))) return
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    totalMs += ms
    for (const name of names) if (stack.some((n) => n.callFrame.functionName === name)) byName[name] = (byName[name] ?? 0) + ms
  })
  return { totalMs, byName }
}
