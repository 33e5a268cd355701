using System.Diagnostics;
using LlmKit.Generation.Constraints;
using LlmKit.Tokenization;

namespace LlmKit.Generation;

/// <summary>
/// Chooses one sequence's next token from one position's logits: the logits pipeline, and with a constraint the
/// budget-aware mask before it and the matcher's advance after it. <see cref="Generator"/> and the batch scheduler's
/// sequences both choose through it, so a batched request follows exactly the rules of one run alone.
/// </summary>
/// <remarks>Not thread-safe: one per sequence (the constraint automaton behind the matcher is shared and thread-safe).</remarks>
internal sealed class TokenChooser(LogitsPipeline pipeline, ConstraintMatcher? constraint, int[] eos, ModelTokenizer tokenizer)
{
    private long _constraintTicks;             // Stopwatch ticks spent masking and advancing the constraint

    /// <summary>Time spent computing and applying masks and advancing the matcher (zero without a constraint).</summary>
    public TimeSpan ConstraintTime => Stopwatch.GetElapsedTime(0, _constraintTicks);

    /// <summary>
    /// Runs the pipeline on <paramref name="logits"/> (processed in place) and returns its token; with a constraint the
    /// logits are masked first (budget-aware: <paramref name="remaining"/> tokens may still be generated, this one
    /// included) and the matcher advances over the chosen token unless it ends the sequence. Returns -1 when the
    /// constraint allows no token.
    /// </summary>
    public int Choose(Span<float> logits, TokenHistory history, int remaining)
    {
        if (constraint is null)
        {
            return pipeline.Next(logits, history);
        }

        long start = Stopwatch.GetTimestamp();
        int state = constraint.State;
        bool any = constraint.ApplyMask(logits, state, remaining);
        _constraintTicks += Stopwatch.GetTimestamp() - start;
        if (!any)
        {
            return -1;
        }

        int token = pipeline.Next(logits, history);
        if (!constraint.WasAllowed(token))
        {
            return -1; // a later processor (min new tokens) removed every allowed token
        }

        if (Array.IndexOf(eos, token) < 0)
        {
            long before = Stopwatch.GetTimestamp();
            constraint.State = constraint.Next(state, tokenizer.TokenBytes(token));
            _constraintTicks += Stopwatch.GetTimestamp() - before;
        }

        return token;
    }
}
