namespace LlmKit.Generation.Constraints;

/// <summary>
/// A compiled constraint: a recursive transition network over bytes. Each <see cref="GrammarRule"/> is a byte NFA
/// whose edges read a byte range, take an epsilon step, or call another rule (and continue at a return state when
/// the callee reaches its final state). Recursion (nested JSON, recursive <c>$ref</c>) lives in calls only.
/// </summary>
/// <remarks>Immutable once built; shared by every sequence and model that uses the constraint.</remarks>
internal sealed class Grammar
{
    public Grammar(GrammarRule root, IReadOnlyList<GrammarRule> rules)
    {
        Root = root;
        Rules = rules;
        ComputeDistances();
    }

    public GrammarRule Root { get; }

    public IReadOnlyList<GrammarRule> Rules { get; }

    /// <summary>
    /// Fewest bytes from each state to its rule's final state (a call costs the callee's shortest match), by
    /// relaxation to a fixed point; <see cref="int.MaxValue"/> when the final state cannot be reached.
    /// </summary>
    private void ComputeDistances()
    {
        foreach (var rule in Rules)
        {
            rule.Distance = new int[rule.States.Count];
            Array.Fill(rule.Distance, int.MaxValue);
            rule.Distance[rule.Final] = 0;
        }

        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var rule in Rules)
            {
                for (int s = 0; s < rule.States.Count; s++)
                {
                    var state = rule.States[s];
                    long best = rule.Distance[s];
                    foreach (var edge in state.Bytes)
                    {
                        best = Math.Min(best, 1L + rule.Distance[edge.Target]);
                    }

                    foreach (int target in state.Epsilons)
                    {
                        best = Math.Min(best, rule.Distance[target]);
                    }

                    foreach (var call in state.Calls)
                    {
                        best = Math.Min(best, (long)call.Callee.Distance[call.Callee.Start] + rule.Distance[call.Return]);
                    }

                    if (best < rule.Distance[s])
                    {
                        rule.Distance[s] = (int)best;
                        changed = true;
                    }
                }
            }
        }
    }
}

/// <summary>One byte NFA of a <see cref="Grammar"/>; state 0 is created first and <see cref="Start"/>/<see cref="Final"/> are set by the builder.</summary>
internal sealed class GrammarRule
{
    public GrammarRule(string name) => Name = name;

    public string Name { get; }

    public List<GrammarState> States { get; } = [];

    public int Start { get; set; }

    public int Final { get; set; }

    /// <summary>Fewest bytes from each state to <see cref="Final"/> (set by <see cref="Grammar"/>).</summary>
    public int[] Distance { get; set; } = [];

    public int NewState()
    {
        States.Add(new GrammarState());
        return States.Count - 1;
    }

    /// <summary>Adds an epsilon edge.</summary>
    public void Epsilon(int from, int to) => States[from].Epsilons.Add(to);

    /// <summary>Adds an edge reading one byte in [lo, hi].</summary>
    public void Bytes(int from, byte lo, byte hi, int to) => States[from].Bytes.Add(new ByteEdge(lo, hi, to));

    /// <summary>Adds a call of <paramref name="callee"/> from <paramref name="from"/> returning to <paramref name="to"/>.</summary>
    public void Call(int from, GrammarRule callee, int to) => States[from].Calls.Add(new CallEdge(callee, to));

    public override string ToString() => Name;
}

internal sealed class GrammarState
{
    public List<ByteEdge> Bytes { get; } = [];

    public List<int> Epsilons { get; } = [];

    public List<CallEdge> Calls { get; } = [];
}

internal readonly record struct ByteEdge(byte Lo, byte Hi, int Target);

internal readonly record struct CallEdge(GrammarRule Callee, int Return);

/// <summary>A piece of a rule under construction: an entry and an exit state (Thompson construction).</summary>
internal readonly record struct Fragment(int Start, int End);
