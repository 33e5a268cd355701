using System.Threading.Channels;
using LlmKit.Generation.Constraints;
using LlmKit.Models;

namespace LlmKit.Generation.Batching;

/// <summary>
/// One request served by a <see cref="BatchScheduler"/>: its own tokens, logits pipeline, limits and cancellation.
/// The scheduler thread chooses its tokens (<see cref="Choose"/>) and hands them over a channel; the request's
/// consumer reads them with <see cref="NextAsync"/>. The consumer sees exactly what a <see cref="Generator"/> for the
/// same prompt and settings returns, one token per call, with the same finish reasons: with a
/// <see cref="GenerationOptions.Constraint"/> it has its own matcher and chooses through the same
/// <see cref="TokenChooser"/> as a generator, and a position where the constraint allows no token hands over -1, which
/// ends the sequence with <see cref="GenerationFinishReason.ConstraintUnsatisfiable"/> and appends nothing.
/// </summary>
/// <remarks>Producer members are called by the scheduler thread only, consumer members by one consumer at a time.</remarks>
internal sealed class BatchedSequence : ITokenSource
{
    private readonly BatchScheduler _scheduler;
    private readonly TokenChooser _chooser;
    private readonly int[] _tokens;            // prompt, then chosen tokens; the producer writes only past what it handed over
    private readonly int[] _eos;
    private readonly Channel<int> _chosen = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private int _produced;                     // producer: tokens chosen (prompt included)
    private int _last;                         // producer: the last choice, -1 when the constraint allowed no token
    private int _consumed;                     // consumer: tokens read (prompt included)
    private volatile bool _abandoned;
    private int _disposed;

    public BatchedSequence(BatchScheduler scheduler, OnnxGenAIModel model, ReadOnlySpan<int> prompt, GenerationOptions options, LogitsPipeline pipeline, ConstraintMatcher? constraint, CancellationToken cancellationToken)
    {
        _scheduler = scheduler;
        Options = options;
        _tokens = new int[model.MaxLength];
        prompt.CopyTo(_tokens);
        _produced = _consumed = PromptLength = prompt.Length;
        MaxNewTokens = Math.Min(options.MaxNewTokens ?? int.MaxValue, model.MaxLength - prompt.Length);
        MaxLength = model.MaxLength;
        _eos = model.Config.Model.EosTokenIds;
        _chooser = new TokenChooser(pipeline, constraint, _eos, model.Tokenizer);
        CancellationToken = cancellationToken;
    }

    /// <inheritdoc />
    public GenerationOptions Options { get; }

    /// <inheritdoc />
    public int PromptLength { get; }

    /// <summary>Most new tokens (settings and max length combined).</summary>
    public int MaxNewTokens { get; }

    private int MaxLength { get; }

    /// <summary>The request's cancellation; the scheduler drops the sequence once it is signalled.</summary>
    public CancellationToken CancellationToken { get; }

    /// <inheritdoc />
    public int CachedPromptTokens { get; internal set; }

    /// <inheritdoc />
    public int DraftedTokens => 0;

    /// <inheritdoc />
    public int AcceptedDraftTokens => 0;

    /// <inheritdoc />
    public GenerationFinishReason? FinishReason { get; private set; }

    /// <inheritdoc />
    public bool IsDone => FinishReason is not null;

    /// <inheritdoc />
    public int GeneratedCount => _consumed - PromptLength;

    /// <inheritdoc />
    public ReadOnlySpan<int> GeneratedTokens => _tokens.AsSpan(PromptLength, _consumed - PromptLength);

    /// <inheritdoc />
    public bool UsesBatching => true;

    // ---- producer side (the scheduler thread) ----

    /// <summary>The prompt and the tokens chosen so far (the producer's view).</summary>
    internal ReadOnlySpan<int> ProducedTokens => _tokens.AsSpan(0, _produced);

    /// <summary>True when the consumer stopped reading (stop sequence, disposal) or cancelled: the scheduler drops it.</summary>
    internal bool IsAbandoned => _abandoned || CancellationToken.IsCancellationRequested;

    /// <summary>Chooses the next token from <paramref name="logits"/> (processed in place) and returns true when the
    /// sequence is finished (end of sequence, token limit, max length, or no token allowed by the constraint).
    /// <see cref="Publish"/> hands it over.</summary>
    internal bool Choose(Span<float> logits)
    {
        int generated = _produced - PromptLength;
        _last = _chooser.Choose(logits, new TokenHistory(_tokens.AsSpan(0, _produced), PromptLength), MaxNewTokens - generated);
        if (_last < 0)
        {
            return true; // nothing appended: the cache already holds every produced token
        }

        _tokens[_produced++] = _last;
        return Finishes(_last, _produced - PromptLength) is not null;
    }

    /// <summary>
    /// Hands the last chosen token to the consumer (and ends the stream after the last one). The scheduler publishes a
    /// finished sequence's last token only after its KV went back to the model's pool, so the consumer's next request
    /// finds it there.
    /// </summary>
    internal void Publish()
    {
        int token = _last;
        _chosen.Writer.TryWrite(token);
        if (token < 0 || Finishes(token, _produced - PromptLength) is not null)
        {
            _chosen.Writer.TryComplete();
        }
    }

    /// <summary>Ends the consumer's wait with <paramref name="error"/> (cancellation or a failed run).</summary>
    internal void Fail(Exception error) => _chosen.Writer.TryComplete(error);

    // ---- consumer side ----

    /// <inheritdoc />
    public async ValueTask<int> NextAsync(CancellationToken cancellationToken)
    {
        if (IsDone)
        {
            throw new InvalidOperationException($"Generation is done ({FinishReason}); create a new generator.");
        }

        int token;
        try
        {
            token = await _chosen.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is not null)
        {
            // The scheduler's failure or cancellation, rethrown as itself.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }

        if (token < 0)
        {
            // As a generator does: -1, nothing appended, and the constraint named as the reason.
            FinishReason = GenerationFinishReason.ConstraintUnsatisfiable;
            return token;
        }

        _consumed++;
        FinishReason = Finishes(token, _consumed - PromptLength);
        return token;
    }

    /// <inheritdoc />
    public void Stop(GenerationFinishReason reason)
    {
        FinishReason ??= reason;
        _abandoned = true;
        _scheduler.Wake();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _abandoned = true;
            _scheduler.Wake();
        }
    }

    /// <summary>The finish reason after the <paramref name="generated"/>-th new token, the rules of <see cref="Generator"/>.</summary>
    private GenerationFinishReason? Finishes(int token, int generated)
    {
        if (Array.IndexOf(_eos, token) >= 0)
        {
            return GenerationFinishReason.EndOfSequence;
        }

        if (generated >= MaxNewTokens)
        {
            return PromptLength + generated >= MaxLength && (Options.MaxNewTokens ?? int.MaxValue) > generated
                ? GenerationFinishReason.ContextLength
                : GenerationFinishReason.MaxNewTokens;
        }

        return null;
    }
}
