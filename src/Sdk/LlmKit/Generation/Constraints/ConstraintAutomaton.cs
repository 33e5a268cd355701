namespace LlmKit.Generation.Constraints;

/// <summary>
/// A <see cref="Grammar"/> determinised lazily over bytes for one token vocabulary. A state is the set of grammar
/// positions (rule, state, call stack) the output so far can be in; transitions are created on first use and kept.
/// Each state caches its token mask (a bitset over the vocabulary, computed by one pruned walk of the
/// <see cref="TokenTrie"/>), so a state met again costs a copy of the bitset.
/// </summary>
/// <remarks>Shared by every sequence of one (constraint, model) pair; thread-safe (one lock around state creation and mask
/// walks; sequences only hold state numbers).</remarks>
internal sealed class ConstraintAutomaton
{
    /// <summary>Bytes of masks kept per automaton; beyond it masks are computed per step (bounds memory on deeply varying JSON).</summary>
    private const long MaxCachedMaskBytes = 64L << 20;

    private readonly Grammar _grammar;
    private readonly Dictionary<GrammarRule, int> _ruleIds = [];
    private readonly Dictionary<(GrammarRule Rule, int Return, Frame? Parent), Frame> _frames = [];
    private readonly Dictionary<StateKey, int> _stateIds = [];
    private readonly List<DfaState> _states = [];
    private readonly int[] _eos;
    private readonly object _gate = new();
    private readonly List<Config> _seeds = [];
    private readonly HashSet<Config> _visited = [];
    private readonly Stack<Config> _work = new();
    private readonly List<Config> _reading = [];
    private int[] _walk = new int[TokenTrie.MaxTokenBytes + 1];
    private long _cachedMaskBytes;

    public ConstraintAutomaton(Grammar grammar, TokenTrie trie, IReadOnlyList<int> endOfSequenceIds)
    {
        _grammar = grammar;
        Trie = trie;
        _eos = [.. endOfSequenceIds.Where(id => (uint)id < (uint)trie.VocabularySize)];
        EveryByteIsAToken = trie.SingleByteTokens.Take(128).All(ids => ids.Any(id => Array.IndexOf(_eos, id) < 0));
        for (int i = 0; i < grammar.Rules.Count; i++)
        {
            _ruleIds[grammar.Rules[i]] = i;
        }

        lock (_gate)
        {
            Start = Intern(Closure([new Config(grammar.Root, grammar.Root.Start, null)]));
        }
    }

    public TokenTrie Trie { get; }

    /// <summary>
    /// Whether every ASCII byte is a token other than end-of-sequence, so a shortest completion (JSON closers, digits,
    /// literals: ASCII unless the constraint itself spells other characters) can be written one token per byte and
    /// the budget rule holds. True for byte fallback and byte-level BPE vocabularies (tiny-random-gpt2 included:
    /// its EOS id is the token of the non-ASCII byte 0xA5).
    /// </summary>
    public bool EveryByteIsAToken { get; }

    public int Start { get; }

    public int WordCount => (Trie.VocabularySize + 63) / 64;

    public int StateCount
    {
        get
        {
            lock (_gate)
            {
                return _states.Count;
            }
        }
    }

    /// <summary>Whether the output is complete in <paramref name="state"/> (end-of-sequence allowed).</summary>
    public bool IsAccepting(int state)
    {
        lock (_gate)
        {
            return _states[state].Accepting;
        }
    }

    /// <summary>Fewest bytes that complete the output from <paramref name="state"/>.</summary>
    public int MinBytesToComplete(int state)
    {
        lock (_gate)
        {
            return _states[state].MinBytes;
        }
    }

    /// <summary>The state after <paramref name="bytes"/>, or -1 when they leave the language.</summary>
    public int Advance(int state, ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            foreach (byte b in bytes)
            {
                state = Step(state, b);
                if (state < 0)
                {
                    return -1;
                }
            }

            return state;
        }
    }

    /// <summary>
    /// Writes the allowed tokens of <paramref name="state"/> into <paramref name="allowed"/> (one bit per token id):
    /// tokens whose bytes keep the output in the language, plus end-of-sequence when it is complete. With
    /// <paramref name="remainingAfter"/> set, a token is allowed only if the output can still be completed in that
    /// many more bytes after it (one byte per token at worst when every byte is a token).
    /// </summary>
    /// <returns>Whether any token is allowed.</returns>
    public bool GetMask(int state, Span<ulong> allowed, int? remainingAfter)
    {
        lock (_gate)
        {
            var s = _states[state];
            var cached = s.Mask ?? BuildMask(state);
            if (remainingAfter is not { } budget || budget >= cached.MaxCost)
            {
                cached.Bits.CopyTo(allowed);
                return cached.Any;
            }

            // Near the end of the budget: keep only tokens after which the output can still be completed in time. Most
            // tokens of a state lead to the same completion distance (the base cost); the others are listed by cost.
            if (cached.BaseCost <= budget)
            {
                cached.Bits.CopyTo(allowed);
                for (int i = cached.OtherIds.Length - 1; i >= 0 && cached.OtherCosts[i] > budget; i--)
                {
                    int id = cached.OtherIds[i];
                    allowed[id >> 6] &= ~(1UL << (id & 63));
                }
            }
            else
            {
                allowed.Clear();
                for (int i = 0; i < cached.OtherIds.Length && cached.OtherCosts[i] <= budget; i++)
                {
                    int id = cached.OtherIds[i];
                    allowed[id >> 6] |= 1UL << (id & 63);
                }

                if (s.Accepting)
                {
                    foreach (int id in _eos)
                    {
                        allowed[id >> 6] |= 1UL << (id & 63);
                    }
                }
            }

            return allowed.IndexOfAnyExcept(0UL) >= 0;
        }
    }

    /// <summary>One pruned walk of the token trie from <paramref name="state"/>: the allowed tokens and each one's completion distance.</summary>
    private StateMask BuildMask(int state)
    {
        var bits = new ulong[WordCount];
        var ids = new List<int>();
        var costs = new List<int>();
        var trie = Trie;
        var nodeByte = trie.NodeByte;
        var nodeDepth = trie.NodeDepth;
        var subtreeEnd = trie.SubtreeEnd;
        var tokenStart = trie.TokenStart;
        var tokenIds = trie.TokenIds;
        var walk = _walk;
        walk[0] = state;
        int n = trie.NodeCount;
        int i = 1;
        while (i < n)
        {
            int depth = nodeDepth[i];
            int next = Step(walk[depth - 1], nodeByte[i]);
            if (next < 0)
            {
                i = subtreeEnd[i];
                continue;
            }

            walk[depth] = next;
            int cost = _states[next].MinBytes;
            for (int t = tokenStart[i], end = tokenStart[i + 1]; t < end; t++)
            {
                int id = tokenIds[t];
                if (Array.IndexOf(_eos, id) < 0)
                {
                    // End-of-sequence ids are allowed exactly when the output is complete, even where they also stand
                    // for bytes (tiny-random-gpt2's EOS is an ordinary byte token): choosing one ends the sequence.
                    bits[id >> 6] |= 1UL << (id & 63);
                    ids.Add(id);
                    costs.Add(cost);
                }
            }

            i++;
        }

        if (_states[state].Accepting)
        {
            foreach (int id in _eos)
            {
                bits[id >> 6] |= 1UL << (id & 63);
            }
        }

        // The commonest completion distance is the base; the other tokens are kept sorted by distance for budget filtering.
        var counts = new Dictionary<int, int>();
        int baseCost = 0, baseCount = 0, maxCost = 0;
        foreach (int cost in costs)
        {
            int count = counts[cost] = counts.GetValueOrDefault(cost) + 1;
            if (count > baseCount)
            {
                (baseCost, baseCount) = (cost, count);
            }

            maxCost = Math.Max(maxCost, cost);
        }

        var otherIds = new int[ids.Count - baseCount];
        var otherCosts = new int[otherIds.Length];
        for (int k = 0, o = 0; k < ids.Count; k++)
        {
            if (costs[k] != baseCost)
            {
                otherIds[o] = ids[k];
                otherCosts[o++] = costs[k];
            }
        }

        Array.Sort(otherCosts, otherIds);
        var mask = new StateMask(bits, bits.AsSpan().IndexOfAnyExcept(0UL) >= 0, baseCost, maxCost, otherIds, otherCosts);
        long size = (bits.Length * 8L) + (mask.OtherIds.Length * 8L) + 64;
        if (_cachedMaskBytes + size <= MaxCachedMaskBytes)
        {
            _states[state].Mask = mask;
            _cachedMaskBytes += size;
        }

        return mask;
    }

    private int Step(int state, byte b)
    {
        var s = _states[state];
        int next = s.Next[b];
        if (next != 0)
        {
            return next - 1; // stored + 1 so that 0 means "not computed"; a dead end is stored as int.MinValue + 1
        }

        var seeds = _seeds;
        seeds.Clear();
        foreach (var config in s.Configs)
        {
            foreach (var edge in config.Rule.States[config.State].Bytes)
            {
                if (b >= edge.Lo && b <= edge.Hi)
                {
                    seeds.Add(config with { State = edge.Target });
                }
            }
        }

        int id = -1;
        if (seeds.Count > 0)
        {
            var closure = Closure(seeds);
            if (closure.Configs.Length > 0 || closure.Accepting)
            {
                id = Intern(closure);
            }
        }

        s.Next[b] = id < 0 ? int.MinValue + 1 : id + 1;
        return id < 0 ? -1 : id;
    }

    private (Config[] Configs, bool Accepting) Closure(List<Config> seeds)
    {
        // Scratch collections reused under the lock: a cold mask walk computes thousands of closures.
        var visited = _visited;
        var work = _work;
        var reading = _reading;
        visited.Clear();
        work.Clear();
        reading.Clear();
        foreach (var seed in seeds)
        {
            work.Push(seed);
        }

        bool accepting = false;
        while (work.Count > 0)
        {
            var c = work.Pop();
            if (!visited.Add(c))
            {
                continue;
            }

            var rule = c.Rule;
            if (rule.Distance[c.State] == int.MaxValue)
            {
                continue; // cannot complete from here: never offer it
            }

            var state = rule.States[c.State];
            if (state.Bytes.Count > 0)
            {
                reading.Add(c);
            }

            foreach (int target in state.Epsilons)
            {
                work.Push(c with { State = target });
            }

            int depth = c.Stack?.Depth ?? 0;
            foreach (var call in state.Calls)
            {
                if (depth < OutputConstraint.MaxNestingDepth)
                {
                    work.Push(new Config(call.Callee, call.Callee.Start, InternFrame(rule, call.Return, c.Stack)));
                }
            }

            if (c.State == rule.Final)
            {
                if (c.Stack is null)
                {
                    accepting = true;
                }
                else
                {
                    work.Push(new Config(c.Stack.Rule, c.Stack.Return, c.Stack.Parent));
                }
            }
        }

        reading.Sort((a, b) =>
        {
            int c = _ruleIds[a.Rule].CompareTo(_ruleIds[b.Rule]);
            if (c == 0)
            {
                c = a.State.CompareTo(b.State);
            }

            return c != 0 ? c : (a.Stack?.Id ?? -1).CompareTo(b.Stack?.Id ?? -1);
        });
        return ([.. reading], accepting);
    }

    private Frame InternFrame(GrammarRule rule, int returnState, Frame? parent)
    {
        if (!_frames.TryGetValue((rule, returnState, parent), out var frame))
        {
            long cost = (long)rule.Distance[returnState] + (parent?.Cost ?? 0);
            frame = new Frame(rule, returnState, parent, _frames.Count, (int)Math.Min(cost, int.MaxValue));
            _frames[(rule, returnState, parent)] = frame;
        }

        return frame;
    }

    private int Intern((Config[] Configs, bool Accepting) closure)
    {
        var key = new StateKey(closure.Configs, closure.Accepting);
        if (_stateIds.TryGetValue(key, out int id))
        {
            return id;
        }

        long min = closure.Accepting ? 0 : int.MaxValue;
        foreach (var c in closure.Configs)
        {
            min = Math.Min(min, (long)c.Rule.Distance[c.State] + (c.Stack?.Cost ?? 0));
        }

        id = _states.Count;
        _states.Add(new DfaState(closure.Configs, closure.Accepting, (int)Math.Min(min, int.MaxValue)));
        _stateIds[key] = id;
        return id;
    }

    private readonly record struct Config(GrammarRule Rule, int State, Frame? Stack);

    /// <summary>A return address on the call stack; interned, so equal stacks are the same object.</summary>
    private sealed class Frame(GrammarRule rule, int returnState, Frame? parent, int id, int cost)
    {
        public GrammarRule Rule { get; } = rule;

        public int Return { get; } = returnState;

        public Frame? Parent { get; } = parent;

        public int Id { get; } = id;

        public int Depth { get; } = (parent?.Depth ?? 0) + 1;

        /// <summary>Fewest bytes to finish this frame and every frame below it.</summary>
        public int Cost { get; } = cost;

        public override int GetHashCode() => Id;

        public override bool Equals(object? obj) => ReferenceEquals(this, obj);
    }

    private sealed class DfaState(Config[] configs, bool accepting, int minBytes)
    {
        public Config[] Configs { get; } = configs;

        public bool Accepting { get; } = accepting;

        public int MinBytes { get; } = minBytes;

        /// <summary>Transitions by byte: 0 = not computed yet, otherwise target + 1 (dead = int.MinValue + 1).</summary>
        public int[] Next { get; } = new int[256];

        public StateMask? Mask { get; set; }
    }

    /// <summary>
    /// A state's allowed tokens (<see cref="Bits"/>), the completion distance most of them lead to (<see cref="BaseCost"/>),
    /// the others sorted by distance, and the largest distance (a budget at least that large needs no filtering).
    /// </summary>
    private sealed record StateMask(ulong[] Bits, bool Any, int BaseCost, int MaxCost, int[] OtherIds, int[] OtherCosts);

    private sealed class StateKey(Config[] configs, bool accepting) : IEquatable<StateKey>
    {
        private readonly int _hash = ComputeHash(configs, accepting);

        public bool Equals(StateKey? other) =>
            other is not null && other._hash == _hash && other.Accepting == Accepting && other.Configs.AsSpan().SequenceEqual(Configs);

        public Config[] Configs { get; } = configs;

        public bool Accepting { get; } = accepting;

        public override bool Equals(object? obj) => Equals(obj as StateKey);

        public override int GetHashCode() => _hash;

        private static int ComputeHash(Config[] configs, bool accepting)
        {
            var hash = new HashCode();
            hash.Add(accepting);
            foreach (var c in configs)
            {
                hash.Add(c);
            }

            return hash.ToHashCode();
        }
    }
}
