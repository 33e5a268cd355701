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
        for (int i = 0; i < rules.Count; i++)
        {
            rules[i].Id = i;
        }

        ComputeDistances();
        ComputeByteClasses();
        foreach (var rule in rules)
        {
            rule.Freeze();
        }
    }

    public GrammarRule Root { get; }

    public IReadOnlyList<GrammarRule> Rules { get; }

    /// <summary>
    /// The class of each byte: bytes that no edge of the grammar tells apart (all letters of a <c>[a-z]</c> run, every
    /// plain character of a free JSON string) lead from any state to the same state, so the automaton keeps one
    /// transition per class.
    /// </summary>
    public byte[] ByteClass { get; } = new byte[256];

    /// <summary>One byte of each class, by class number.</summary>
    public byte[] ClassRepresentatives { get; private set; } = [];

    private void ComputeByteClasses()
    {
        var ranges = new HashSet<(byte Lo, byte Hi)>();
        foreach (var rule in Rules)
        {
            foreach (var state in rule.States)
            {
                foreach (var edge in state.Bytes)
                {
                    ranges.Add((edge.Lo, edge.Hi));
                }
            }
        }

        // Partition refinement: each range splits every class into the bytes inside it and those outside.
        var classOf = new int[256];
        int classCount = 1;
        var renumber = new int[512];
        foreach (var (lo, hi) in ranges)
        {
            Array.Fill(renumber, -1, 0, classCount * 2);
            int next = 0;
            for (int b = 0; b < 256; b++)
            {
                int key = (classOf[b] * 2) + (b >= lo && b <= hi ? 1 : 0);
                if (renumber[key] < 0)
                {
                    renumber[key] = next++;
                }

                classOf[b] = renumber[key];
            }

            classCount = next;
        }

        ClassRepresentatives = new byte[classCount];
        for (int b = 255; b >= 0; b--)
        {
            ByteClass[b] = (byte)classOf[b];
            ClassRepresentatives[classOf[b]] = (byte)b;
        }
    }

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

    /// <summary>Position in <see cref="Grammar.Rules"/>: orders configurations when the automaton interns a state.</summary>
    public int Id { get; set; }

    public string Name { get; }

    public List<GrammarState> States { get; } = [];

    public int Start { get; set; }

    public int Final { get; set; }

    /// <summary>Fewest bytes from each state to <see cref="Final"/> (set by <see cref="Grammar"/>).</summary>
    public int[] Distance { get; set; } = [];

    // The edges again as flat arrays indexed by state (edges of state s are [start[s], start[s + 1])), written by
    // Freeze once the grammar is complete: the automaton reads these, a few contiguous arrays instead of three lists
    // per state, because it builds states right after a model step has flushed the caches.
    public int[] EdgeStart { get; private set; } = [];

    public byte[] EdgeLo { get; private set; } = [];

    public byte[] EdgeHi { get; private set; } = [];

    public int[] EdgeTarget { get; private set; } = [];

    public int[] EpsilonStart { get; private set; } = [];

    public int[] EpsilonTarget { get; private set; } = [];

    public int[] CallStart { get; private set; } = [];

    public GrammarRule[] CallCallee { get; private set; } = [];

    public int[] CallReturn { get; private set; } = [];

    public void Freeze()
    {
        int n = States.Count;
        (EdgeStart, EpsilonStart, CallStart) = (new int[n + 1], new int[n + 1], new int[n + 1]);
        var edges = States.SelectMany(state => state.Bytes).ToArray();
        var calls = States.SelectMany(state => state.Calls).ToArray();
        EdgeLo = [.. edges.Select(e => e.Lo)];
        EdgeHi = [.. edges.Select(e => e.Hi)];
        EdgeTarget = [.. edges.Select(e => e.Target)];
        EpsilonTarget = [.. States.SelectMany(state => state.Epsilons)];
        CallCallee = [.. calls.Select(c => c.Callee)];
        CallReturn = [.. calls.Select(c => c.Return)];
        for (int s = 0; s < n; s++)
        {
            EdgeStart[s + 1] = EdgeStart[s] + States[s].Bytes.Count;
            EpsilonStart[s + 1] = EpsilonStart[s] + States[s].Epsilons.Count;
            CallStart[s + 1] = CallStart[s] + States[s].Calls.Count;
        }
    }

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
