using System.Runtime.CompilerServices;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// A <see cref="Grammar"/> determinised lazily over bytes for one token vocabulary. A state is the set of grammar
/// positions (rule, state, call stack) the output so far can be in; a state's transitions (one per byte class of the
/// grammar) are computed together on first use and kept. Each state caches its token mask, computed by one walk of the
/// <see cref="TokenTrie"/> that enters only the first-byte subtrees the state allows and skips every subtree whose
/// prefix it rejects, so a state met again costs a copy of the mask.
/// </summary>
/// <remarks>
/// <para>Shared by every sequence of one (constraint, model) pair; thread-safe (one lock around state creation and mask
/// walks; sequences only hold state numbers).</para>
/// <para>New states are built right after a model step has flushed the caches, so the hot paths read flat arrays
/// (grammar edges, byte-class rows, trie arrays), keep few-token masks as id lists, share equal dense masks, and are
/// compiled fully optimised on first call (the first generation with a constraint runs them a few hundred times,
/// too few for tiered compilation to promote them).</para>
/// </remarks>
internal sealed class ConstraintAutomaton
{
    /// <summary>Bytes of masks kept per automaton; beyond it masks are computed per step (bounds memory on deeply varying JSON).</summary>
    private const long MaxCachedMaskBytes = 64L << 20;

    /// <summary>Per-walk lists of the thread doing a walk (walks run under the automaton's lock and never nest).</summary>
    [ThreadStatic]
    private static MaskScratch? t_maskScratch;

    private readonly Grammar _grammar;
    private readonly Dictionary<(GrammarRule Rule, int Return, Frame? Parent), Frame> _frames = [];
    private readonly Dictionary<StateKey, int> _stateIds = [];
    private readonly List<DfaState> _states = [];
    private readonly int[] _eos;
    private readonly ulong[] _eosBits;
    private readonly object _gate = new();

    // Scratch reused under the lock by closures and row computation.
    private readonly List<Config> _seeds = [];
    private readonly HashSet<Config> _visited = [];
    private readonly Stack<Config> _work = new();
    private readonly List<Config> _reading = [];
    private readonly List<Config[]> _rowSeeds = [];
    private readonly List<int> _rowSeedIds = [];

    // Trie walk: the state and transition row at each depth, and the grammar's byte class of each trie node.
    private readonly int[] _walk = new int[TokenTrie.MaxTokenBytes + 1];
    private readonly int[]?[] _walkRows = new int[TokenTrie.MaxTokenBytes + 1][];
    private readonly byte[] _nodeClass;

    /// <summary>
    /// For each trie node, the byte classes below it (one bit per class; null when the grammar has more than 64
    /// classes): a walk takes a whole subtree at once when all of them loop back to the node's state.
    /// </summary>
    private readonly ulong[]? _descendantClasses;

    /// <summary>Dense masks by content hash, so states that allow the same tokens share one bitset.</summary>
    private readonly Dictionary<ulong, List<ulong[]>> _denseMasks = [];

    // Per-state tables read by the trie walk: each state's transitions by byte class (target state, dead = -1; null
    // until computed, all at once) and its fewest bytes to completion. The outer arrays grow by doubling in Intern.
    private int[]?[] _next = new int[64][];
    private int[] _minBytes = new int[64];
    private ulong[] _selfLoops = new ulong[64]; // per state: the byte classes that lead back to it
    private long _cachedMaskBytes;

    /// <param name="grammar">The compiled constraint.</param>
    /// <param name="trie">The tokenizer's tokens.</param>
    /// <param name="endOfSequenceIds">Tokens that end the sequence.</param>
    /// <param name="vocabularySize">
    /// The model's vocabulary (its logits): tokenizer entries at or beyond it are never offered. Tokenizers may hold
    /// more entries than a model can produce (tiny-random-gpt2: 1,000 logits, GPT-2's 50,257 tokens).
    /// </param>
    public ConstraintAutomaton(Grammar grammar, TokenTrie trie, IReadOnlyList<int> endOfSequenceIds, int vocabularySize)
    {
        VocabularySize = Math.Min(vocabularySize, trie.VocabularySize);
        _grammar = grammar;
        Trie = trie;
        _eos = [.. endOfSequenceIds.Where(id => (uint)id < (uint)VocabularySize)];
        _nodeClass = new byte[trie.NodeCount];
        for (int i = 0; i < _nodeClass.Length; i++)
        {
            _nodeClass[i] = grammar.ByteClass[trie.NodeByte[i]];
        }

        _descendantClasses = grammar.ClassRepresentatives.Length <= 64 ? DescendantClasses(trie, _nodeClass) : null;
        _eosBits = new ulong[WordCount];
        foreach (int id in _eos)
        {
            _eosBits[id >> 6] |= 1UL << (id & 63);
        }

        EveryByteIsAToken = trie.SingleByteTokens.Take(128).All(ids => ids.Any(id => id < VocabularySize && Array.IndexOf(_eos, id) < 0));
        lock (_gate)
        {
            Start = Intern(Closure([new Config(grammar.Root, grammar.Root.Start, null)]));
        }
    }

    public TokenTrie Trie { get; }

    /// <summary>Whether some complete output of <paramref name="constraint"/> starts with <paramref name="prefix"/>.</summary>
    public static bool AllowsPrefix(OutputConstraint constraint, string prefix)
    {
        var automaton = new ConstraintAutomaton(constraint.Grammar, TokenTrie.Empty, [], vocabularySize: 0);
        return automaton.Advance(automaton.Start, System.Text.Encoding.UTF8.GetBytes(prefix)) >= 0;
    }

    private static ulong[] DescendantClasses(TokenTrie trie, byte[] nodeClass)
    {
        // Preorder backwards: every child is finished before its parent.
        var below = new ulong[trie.NodeCount];
        for (int i = trie.NodeCount - 1; i >= 1; i--)
        {
            ulong classes = 0;
            for (int child = i + 1; child < trie.SubtreeEnd[i]; child = trie.SubtreeEnd[child])
            {
                classes |= below[child] | (1UL << nodeClass[child]);
            }

            below[i] = classes;
        }

        return below;
    }

    /// <summary>
    /// Whether every ASCII byte is a token other than end-of-sequence, so a shortest completion (JSON closers, digits,
    /// literals: ASCII unless the constraint itself spells other characters) can be written one token per byte and
    /// the budget rule holds. True for byte fallback and byte-level BPE vocabularies (tiny-random-gpt2 included:
    /// its EOS id is the token of the non-ASCII byte 0xA5).
    /// </summary>
    public bool EveryByteIsAToken { get; }

    public int Start { get; }

    /// <summary>Tokens that may be offered: ids below this (the model's vocabulary, at most the tokenizer's).</summary>
    public int VocabularySize { get; }

    public int WordCount => (VocabularySize + 63) / 64;

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool GetMask(int state, Span<ulong> allowed, int? remainingAfter)
    {
        lock (_gate)
        {
            var s = _states[state];
            var cached = s.Mask ?? BuildMask(state);
            if (remainingAfter is not { } budget || budget >= cached.MaxCost)
            {
                cached.CopyTo(allowed);
                return cached.Any;
            }

            // Near the end of the budget: keep only tokens after which the output can still be completed in time. Most
            // tokens of a state lead to the same completion distance (the base cost); the others are listed by cost.
            if (cached.BaseCost <= budget)
            {
                cached.CopyTo(allowed);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private StateMask BuildMask(int state)
    {
        var trie = Trie;
        var nodeDepth = trie.NodeDepth;
        var subtreeEnd = trie.SubtreeEnd;
        var tokenStart = trie.TokenStart;
        var tokenIds = trie.TokenIds;
        var eos = _eosBits;
        int limit = VocabularySize;
        var walk = _walk;
        var scratch = t_maskScratch is { } kept && kept.RangeStart.Length >= trie.NodeCount && kept.Bits.Length >= WordCount
            ? kept
            : t_maskScratch = new MaskScratch(trie.NodeCount, WordCount);
        var bits = scratch.Bits;
        var costs = new CostTally();
        int rangeCount = 0;
        int runCost = 0, runCount = 0;
        var walkRows = _walkRows;
        var nodeClass = _nodeClass;
        var descendantClasses = _descendantClasses;
        var byteClass = _grammar.ByteClass;
        walk[0] = state;
        var firstRow = walkRows[0] = Row(state);
        var rootChild = trie.RootChild;
        for (int first = 0; first < 256; first++)
        {
            int i = rootChild[first];
            if (i == 0 || firstRow[byteClass[first]] < 0)
            {
                continue;
            }

            int stop = subtreeEnd[i];
            while (i < stop)
            {
                int depth = nodeDepth[i];
                var row = walkRows[depth - 1] ??= ComputeRow(walk[depth - 1]);
                int next = row[nodeClass[i]];
                if (next < 0)
                {
                    i = subtreeEnd[i];
                    continue;
                }

                walk[depth] = next;
                walkRows[depth] = _next[next];
                int cost = _minBytes[next];
                AddTokens(tokenStart[i], tokenStart[i + 1], cost);
                if (descendantClasses is not null && descendantClasses[i] != 0)
                {
                    // Every byte below this node loops back to the same state (letters inside a free string): the
                    // whole subtree is allowed at one distance, its tokens are one contiguous run of the preorder.
                    walkRows[depth] ??= ComputeRow(next);
                    if ((descendantClasses[i] & ~_selfLoops[next]) == 0)
                    {
                        AddTokens(tokenStart[i + 1], tokenStart[subtreeEnd[i]], cost);
                        i = subtreeEnd[i];
                        continue;
                    }
                }

                i++;
            }
        }

        costs.Add(runCost, runCount);
        bool accepting = _states[state].Accepting;

        // The commonest completion distance is the base; the other tokens are kept sorted by distance for budget filtering.
        int baseCost = costs.Mode;
        var otherIds = new int[costs.Total - costs.CountOf(baseCost)];
        var otherCosts = new int[otherIds.Length];
        for (int k = 0, o = 0; k < rangeCount; k++)
        {
            int rangeCost = scratch.Costs[k];
            if (rangeCost == baseCost)
            {
                continue;
            }

            for (int t = scratch.RangeStart[k], end = scratch.RangeEnd[k]; t < end; t++)
            {
                int id = tokenIds[t];
                if (Offered(id))
                {
                    otherIds[o] = id;
                    otherCosts[o++] = rangeCost;
                }
            }
        }

        Array.Sort(otherCosts, otherIds);
        StateMask mask;
        int countBound = costs.Total + (accepting ? _eos.Length : 0);
        if (countBound * 2 > WordCount)
        {
            if (accepting)
            {
                foreach (int id in _eos)
                {
                    bits[id >> 6] |= 1UL << (id & 63);
                }
            }

            mask = StateMask.Dense(bits.AsSpan(0, WordCount), baseCost, costs.Max, otherIds, otherCosts, _denseMasks);
        }
        else
        {
            // Few tokens: list them from the walk's runs and clear just their words (the bitset stays cold).
            var ids = new int[countBound];
            int count = 0;
            for (int k = 0; k < rangeCount; k++)
            {
                for (int t = scratch.RangeStart[k], end = scratch.RangeEnd[k]; t < end; t++)
                {
                    int id = tokenIds[t];
                    if (Offered(id))
                    {
                        ids[count++] = id;
                        bits[id >> 6] = 0;
                    }
                }
            }

            if (accepting)
            {
                _eos.CopyTo(ids, count);
                count += _eos.Length;
            }

            mask = StateMask.Sparse(ids, baseCost, costs.Max, otherIds, otherCosts);
        }

        long size = mask.Size;
        if (_cachedMaskBytes + size <= MaxCachedMaskBytes)
        {
            _states[state].Mask = mask;
            _cachedMaskBytes += size;
        }

        return mask;

        // End-of-sequence ids are allowed exactly when the output is complete, even where they also stand for bytes
        // (tiny-random-gpt2's EOS is an ordinary byte token): choosing one ends the sequence.
        bool Offered(int id) => id < limit && (eos[id >> 6] & (1UL << (id & 63))) == 0;

        void AddTokens(int from, int to, int cost)
        {
            if (from == to)
            {
                return;
            }

            int allowed = 0;
            for (int t = from; t < to; t++)
            {
                int id = tokenIds[t];
                if (Offered(id))
                {
                    bits[id >> 6] |= 1UL << (id & 63);
                    allowed++;
                }
            }

            scratch.RangeStart[rangeCount] = from;
            scratch.RangeEnd[rangeCount] = to;
            scratch.Costs[rangeCount++] = cost;
            if (cost == runCost)
            {
                runCount += allowed; // neighbouring tokens mostly share a distance: tally runs, not tokens
            }
            else
            {
                costs.Add(runCost, runCount);
                (runCost, runCount) = (cost, allowed);
            }
        }
    }

    private int Step(int state, byte b) => Row(state)[_grammar.ByteClass[b]];

    private int[] Row(int state) => _next[state] ?? ComputeRow(state);

    /// <summary>
    /// Computes a state's transitions, one byte class at a time; classes whose edges lead to the same configurations
    /// (every plain character of a free string) share one closure.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private int[] ComputeRow(int state)
    {
        var representatives = _grammar.ClassRepresentatives;
        var row = new int[representatives.Length];
        var configs = _states[state].Configs;
        var seeds = _seeds;
        var earlier = _rowSeeds;
        var earlierIds = _rowSeedIds;
        earlier.Clear();
        earlierIds.Clear();
        for (int c = 0; c < representatives.Length; c++)
        {
            byte b = representatives[c];
            seeds.Clear();
            foreach (var config in configs)
            {
                var rule = config.Rule;
                for (int e = rule.EdgeStart[config.State], end = rule.EdgeStart[config.State + 1]; e < end; e++)
                {
                    if (b >= rule.EdgeLo[e] && b <= rule.EdgeHi[e])
                    {
                        seeds.Add(config with { State = rule.EdgeTarget[e] });
                    }
                }
            }

            int id = -1;
            if (seeds.Count > 0)
            {
                int same = FindSeeds(seeds);
                if (same >= 0)
                {
                    id = earlierIds[same];
                }
                else
                {
                    var closure = Closure(seeds);
                    if (closure.Configs.Length > 0 || closure.Accepting)
                    {
                        id = Intern(closure);
                    }

                    earlier.Add([.. seeds]);
                    earlierIds.Add(id);
                }
            }

            row[c] = id;
            if (id == state && c < 64)
            {
                _selfLoops[state] |= 1UL << c;
            }
        }

        _next[state] = row;
        return row;
    }

    private int FindSeeds(List<Config> seeds)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seeds);
        for (int k = 0; k < _rowSeeds.Count; k++)
        {
            if (span.SequenceEqual(_rowSeeds[k]))
            {
                return k;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

            int s = c.State;
            if (rule.EdgeStart[s + 1] > rule.EdgeStart[s])
            {
                reading.Add(c);
            }

            for (int e = rule.EpsilonStart[s], end = rule.EpsilonStart[s + 1]; e < end; e++)
            {
                work.Push(c with { State = rule.EpsilonTarget[e] });
            }

            int depth = c.Stack?.Depth ?? 0;
            for (int k = rule.CallStart[s], end = rule.CallStart[s + 1]; k < end && depth < OutputConstraint.MaxNestingDepth; k++)
            {
                var callee = rule.CallCallee[k];
                work.Push(new Config(callee, callee.Start, InternFrame(rule, rule.CallReturn[k], c.Stack)));
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

        reading.Sort(ConfigOrder);
        return ([.. reading], accepting);
    }

    /// <summary>A canonical order of configurations, so equal sets intern to one state.</summary>
    private static readonly Comparison<Config> ConfigOrder = (a, b) =>
    {
        int c = a.Rule.Id.CompareTo(b.Rule.Id);
        if (c == 0)
        {
            c = a.State.CompareTo(b.State);
        }

        return c != 0 ? c : (a.Stack?.Id ?? -1).CompareTo(b.Stack?.Id ?? -1);
    };

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        if (_minBytes.Length == id)
        {
            Array.Resize(ref _minBytes, id * 2);
            Array.Resize(ref _next, id * 2);
            Array.Resize(ref _selfLoops, id * 2);
        }

        _minBytes[id] = _states[id].MinBytes;
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

        public StateMask? Mask { get; set; }
    }

    /// <summary>
    /// A state's allowed tokens, the completion distance most of them lead to (<see cref="BaseCost"/>), the others
    /// sorted by distance, and the largest distance (a budget at least that large needs no filtering). Few allowed
    /// tokens (structure, literals, digits: most states) are kept as a list of ids, many as a bitset.
    /// </summary>
    private sealed class StateMask
    {
        private readonly ulong[]? _bits;
        private readonly int[]? _ids;

        private StateMask(ulong[]? bits, int[]? ids, bool any, int baseCost, int maxCost, int[] otherIds, int[] otherCosts)
        {
            (_bits, _ids, Any, BaseCost, MaxCost, OtherIds, OtherCosts) = (bits, ids, any, baseCost, maxCost, otherIds, otherCosts);
        }

        public bool Any { get; }

        public int BaseCost { get; }

        public int MaxCost { get; }

        public int[] OtherIds { get; }

        public int[] OtherCosts { get; }

        /// <summary>Bytes held, for the automaton's cache budget.</summary>
        public long Size => ((_bits?.Length ?? 0) * 8L) + ((_ids?.Length ?? 0) * 4L) + (OtherIds.Length * 8L) + 64;

        /// <summary>
        /// Keeps the tokens set in <paramref name="scratch"/> and clears it. A bitset equal to one in
        /// <paramref name="denseMasks"/> is shared: bounded repetitions make many states whose tokens are the same
        /// (every position well inside a long word) and differ only in distances.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static StateMask Dense(Span<ulong> scratch, int baseCost, int maxCost, int[] otherIds, int[] otherCosts, Dictionary<ulong, List<ulong[]>> denseMasks)
        {
            ulong hash = 0;
            foreach (ulong word in scratch)
            {
                hash = (hash ^ word) * 0x9E3779B97F4A7C15UL;
            }

            ulong[]? same = null;
            if (denseMasks.TryGetValue(hash, out var candidates))
            {
                foreach (var candidate in candidates)
                {
                    if (scratch.SequenceEqual(candidate))
                    {
                        same = candidate;
                        break;
                    }
                }
            }

            ulong[] bits = same ?? scratch.ToArray();
            if (same is null)
            {
                (candidates ??= denseMasks[hash] = []).Add(bits);
            }

            scratch.Clear();
            return new StateMask(bits, null, bits.AsSpan().IndexOfAnyExcept(0UL) >= 0, baseCost, maxCost, otherIds, otherCosts);
        }

        /// <summary>A mask of the distinct token ids <paramref name="ids"/>.</summary>
        public static StateMask Sparse(int[] ids, int baseCost, int maxCost, int[] otherIds, int[] otherCosts) =>
            new(null, ids, ids.Length > 0, baseCost, maxCost, otherIds, otherCosts);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void CopyTo(Span<ulong> allowed)
        {
            if (_bits is not null)
            {
                _bits.CopyTo(allowed);
                return;
            }

            allowed.Clear();
            foreach (int id in _ids!)
            {
                allowed[id >> 6] |= 1UL << (id & 63);
            }
        }
    }

    /// <summary>
    /// Per-walk lists: runs of allowed tokens (ranges of <see cref="TokenTrie.TokenIds"/>, one per visited node at
    /// most) with their distance, and the bitset being filled (left clear).
    /// </summary>
    private sealed class MaskScratch(int nodeCount, int wordCount)
    {
        public ulong[] Bits { get; } = new ulong[wordCount];

        public int[] RangeStart { get; } = new int[nodeCount];

        public int[] RangeEnd { get; } = new int[nodeCount];

        public int[] Costs { get; } = new int[nodeCount];
    }

    /// <summary>
    /// Token counts by completion distance for one walk: a few distinct distances are tracked exactly (a walk rarely
    /// meets more); later ones only count towards the total, so the mode is taken among the first few, which any
    /// choice of base keeps correct (tokens off the base are listed with their own distance).
    /// </summary>
    private struct CostTally
    {
        private const int Tracked = 16;
        private InlineCosts _costs;
        private InlineCosts _counts;
        private int _distinct;

        public int Total { get; private set; }

        public int Max { get; private set; }

        public readonly int Mode
        {
            get
            {
                int best = 0;
                for (int k = 1; k < _distinct; k++)
                {
                    if (_counts[k] > _counts[best])
                    {
                        best = k;
                    }
                }

                return _distinct == 0 ? 0 : _costs[best];
            }
        }

        public void Add(int cost, int count)
        {
            if (count == 0)
            {
                return;
            }

            Total += count;
            Max = Math.Max(Max, cost);
            for (int k = 0; k < _distinct; k++)
            {
                if (_costs[k] == cost)
                {
                    _counts[k] += count;
                    return;
                }
            }

            if (_distinct < Tracked)
            {
                _costs[_distinct] = cost;
                _counts[_distinct++] = count;
            }
        }

        public readonly int CountOf(int cost)
        {
            for (int k = 0; k < _distinct; k++)
            {
                if (_costs[k] == cost)
                {
                    return _counts[k];
                }
            }

            return 0;
        }

        [System.Runtime.CompilerServices.InlineArray(Tracked)]
        private struct InlineCosts
        {
            private int _element;
        }
    }

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
