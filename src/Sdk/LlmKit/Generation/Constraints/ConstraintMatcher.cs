using System.Runtime.CompilerServices;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// The constraint state of one sequence: a state number of the shared <see cref="ConstraintAutomaton"/>, a mask
/// buffer, and the budget rule. Because the state is one number, a speculative step can try tokens and keep or drop
/// them for free.
/// </summary>
/// <remarks>Not thread-safe: one per sequence.</remarks>
internal sealed class ConstraintMatcher
{
    private readonly ConstraintAutomaton _automaton;
    private readonly ulong[] _allowed;
    private float[] _kept = [];

    public ConstraintMatcher(ConstraintAutomaton automaton)
    {
        _automaton = automaton;
        _allowed = new ulong[automaton.WordCount];
        State = automaton.Start;
    }

    /// <summary>The automaton state of the output so far.</summary>
    public int State { get; set; }

    /// <summary>Whether the output so far is complete.</summary>
    public bool IsComplete => _automaton.IsAccepting(State);

    /// <summary>
    /// Masks (sets to -infinity) every logit whose token is not allowed in <paramref name="state"/>. With
    /// <paramref name="remainingTokens"/> (tokens that may still be generated, this one included) the shortest
    /// completion and an end-of-sequence token must still fit after the token (then the completion alone); if even that
    /// leaves nothing (the budget was too small from the start), the unfiltered mask is used.
    /// </summary>
    /// <returns>False when no token is allowed (the logits are then all masked).</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool ApplyMask(Span<float> logits, int state, int remainingTokens)
    {
        bool any = false;
        if (_automaton.EveryByteIsAToken)
        {
            // Room for the shortest completion (one token per byte at worst) and the end-of-sequence token after it;
            // failing that (or when the output is already complete, so tokens that keep it complete may fill the
            // budget), for the completion alone.
            any = (!_automaton.IsAccepting(state) && _automaton.GetMask(state, _allowed, remainingTokens - 2))
                || _automaton.GetMask(state, _allowed, remainingTokens - 1);
        }

        if (!any)
        {
            any = _automaton.GetMask(state, _allowed, null);
        }

        Apply(logits, _allowed, ref _kept);
        return any;
    }

    /// <summary>Whether <paramref name="token"/> was allowed by the last <see cref="ApplyMask"/>.</summary>
    public bool WasAllowed(int token) => (uint)token < (uint)(_allowed.Length * 64) && (_allowed[token >> 6] & (1UL << (token & 63))) != 0;

    /// <summary>The state after a token's <paramref name="bytes"/>; -1 when they leave the language.</summary>
    public int Next(int state, ReadOnlySpan<byte> bytes) => _automaton.Advance(state, bytes);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Apply(Span<float> logits, ReadOnlySpan<ulong> allowed, ref float[] saved)
    {
        int vocab = logits.Length;
        int words = Math.Min(allowed.Length, (vocab + 63) / 64);
        int allowedCount = 0;
        for (int w = 0; w < words; w++)
        {
            allowedCount += System.Numerics.BitOperations.PopCount(allowed[w]);
        }

        if (allowedCount * 8 < vocab)
        {
            // Few tokens allowed (structure, numbers, choices): keep their logits, fill everything, put them back.
            if (saved.Length < allowedCount)
            {
                saved = new float[Math.Max(allowedCount, 64)];
            }

            int k = 0;
            for (int w = 0; w < words; w++)
            {
                for (ulong b = allowed[w]; b != 0; b &= b - 1)
                {
                    int id = (w * 64) + System.Numerics.BitOperations.TrailingZeroCount(b);
                    saved[k++] = id < vocab ? logits[id] : 0f;
                }
            }

            logits.Fill(float.NegativeInfinity);
            k = 0;
            for (int w = 0; w < words; w++)
            {
                for (ulong b = allowed[w]; b != 0; b &= b - 1)
                {
                    int id = (w * 64) + System.Numerics.BitOperations.TrailingZeroCount(b);
                    float value = saved[k++];
                    if (id < vocab)
                    {
                        logits[id] = value;
                    }
                }
            }

            return;
        }

        Span<float> kept = stackalloc float[64];
        for (int w = 0; w * 64 < vocab; w++)
        {
            ulong bits = w < allowed.Length ? allowed[w] : 0UL;
            if (bits == ulong.MaxValue)
            {
                continue;
            }

            int start = w * 64;
            int count = Math.Min(64, vocab - start);
            if (bits == 0)
            {
                logits.Slice(start, count).Fill(float.NegativeInfinity);
                continue;
            }

            var block = logits.Slice(start, count);
            if (System.Numerics.BitOperations.PopCount(bits) < 32)
            {
                // Few allowed: keep their logits, fill the block, put them back (cheaper than clearing each blocked one).
                for (ulong b = bits; b != 0; b &= b - 1)
                {
                    int bit = System.Numerics.BitOperations.TrailingZeroCount(b);
                    kept[bit] = bit < count ? block[bit] : 0f;
                }

                block.Fill(float.NegativeInfinity);
                for (ulong b = bits; b != 0; b &= b - 1)
                {
                    int bit = System.Numerics.BitOperations.TrailingZeroCount(b);
                    if (bit < count)
                    {
                        block[bit] = kept[bit];
                    }
                }

                continue;
            }

            ulong blocked = ~bits;
            if (count < 64)
            {
                blocked &= (1UL << count) - 1;
            }

            while (blocked != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(blocked);
                logits[start + bit] = float.NegativeInfinity;
                blocked &= blocked - 1;
            }
        }
    }
}
