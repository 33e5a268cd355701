using LlmKit.Generation.Constraints;
using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>
/// Generates one sequence token by token: the first call prefills the whole prompt in one run, each later
/// call runs one decode step with the KV cache carried over. Works on token ids; see
/// <see cref="TextGenerationExtensions"/> for text, streaming and stop sequences.
/// </summary>
/// <remarks>Not thread-safe: one generator per sequence (many generators may share one model concurrently).
/// A decode step allocates no managed memory. With <see cref="GenerationOptions.PromptLookup"/> or
/// <see cref="GenerationOptions.DraftModel"/> a step may verify several drafted tokens in one run; the tokens it accepts are still returned one per call, so callers see the same tokens,
/// limits and finish reasons as without it.</remarks>
public sealed class Generator : IDisposable
{
    private readonly DecoderState _state;
    private readonly TokenChooser _chooser;
    private readonly int[] _tokens;
    private readonly int[] _eos;
    private readonly ITokenDrafter? _drafter;
    private readonly ConstraintMatcher? _constraint;
    private int _count;
    private int _pending;                      // tokens chosen by the last verification, at _tokens[_count..], not yet returned
    private bool _started;
    private bool _disposed;

    internal Generator(OnnxGenAIModel model, ReadOnlySpan<int> prompt, GenerationOptions options, LogitsPipeline pipeline, ConstraintMatcher? constraint = null)
    {
        _constraint = constraint;
        Model = model;
        Options = options;
        _state = model.RentState(prompt, model.AdapterFor(options));
        CachedPromptTokens = _state.Length;
        _tokens = new int[model.MaxLength];
        prompt.CopyTo(_tokens);
        _count = prompt.Length;
        PromptLength = prompt.Length;
        MaxNewTokens = Math.Min(options.MaxNewTokens ?? int.MaxValue, model.MaxLength - prompt.Length);
        _eos = model.Config.Model.EosTokenIds;
        _chooser = new TokenChooser(pipeline, constraint, _eos, model.Tokenizer);
        // A sliding window drops positions as it goes, so rejected drafts could not be rolled back; when the rotation
        // depends on the run length, a verification run of several tokens would rotate them unlike one-by-one decoding.
        bool speculates = model.SlidingWindow is null && !model.RotationDependsOnRunLength;
        if (options.PromptLookup is { } lookup && speculates)
        {
            _drafter = new PromptLookupDrafter(lookup);
        }
        else if (options.DraftModel is { } draft && speculates)
        {
            _drafter = new DraftModelDrafter(draft, prompt);
        }
    }

    /// <summary>The model.</summary>
    public OnnxGenAIModel Model { get; }

    /// <summary>The resolved settings.</summary>
    public GenerationOptions Options { get; }

    /// <summary>Number of prompt tokens.</summary>
    public int PromptLength { get; }

    /// <summary>
    /// Prompt tokens whose KV came from an earlier sequence with the same start and were not prefilled again
    /// (see <see cref="OnnxGenAIModelOptions.ReusePromptPrefixes"/>); 0 when nothing was reused.
    /// </summary>
    public int CachedPromptTokens { get; }

    /// <summary>Most new tokens this generator will produce (settings and max length combined).</summary>
    public int MaxNewTokens { get; }

    /// <summary>Prompt and generated tokens.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _count);

    /// <summary>Generated tokens (an end-of-sequence token, if produced, is the last).</summary>
    public ReadOnlySpan<int> GeneratedTokens => _tokens.AsSpan(PromptLength, _count - PromptLength);

    /// <summary>Number of generated tokens.</summary>
    public int GeneratedCount => _count - PromptLength;

    /// <summary>Draft tokens proposed by prompt lookup or the draft model and verified by the model (0 when speculation is off).</summary>
    public int DraftedTokens { get; private set; }

    /// <summary>Drafted tokens the model accepted (each saves one decode run); <see cref="DraftedTokens"/> gives the rate.</summary>
    public int AcceptedDraftTokens { get; private set; }

    /// <summary>Model runs made so far (the prefill counts as one; a draft model's runs are not counted); with speculation fewer than the tokens generated.</summary>
    public int ModelRuns { get; private set; }

    /// <summary>True once an end-of-sequence token, the token limit or the max length was reached (or <see cref="Stop"/> was called).</summary>
    public bool IsDone => FinishReason is not null;

    /// <summary>Why generation ended; null while it goes on.</summary>
    public GenerationFinishReason? FinishReason { get; private set; }

    /// <summary>
    /// Time spent on <see cref="GenerationOptions.Constraint"/>: computing and applying token masks and advancing the
    /// matcher (zero without a constraint). Benchmarks compare it with the decode step.
    /// </summary>
    public TimeSpan ConstraintTime => _chooser.ConstraintTime;

    /// <summary>
    /// Whether the output so far is complete under <see cref="GenerationOptions.Constraint"/> (true when there is none).
    /// </summary>
    public bool IsConstraintComplete => _constraint?.IsComplete ?? true;

    /// <summary>
    /// Runs the model once and returns the next token (appended to <see cref="Tokens"/>). With
    /// <see cref="GenerationOptions.Constraint"/>, when no token is allowed it returns -1, appends nothing and ends
    /// with <see cref="GenerationFinishReason.ConstraintUnsatisfiable"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Generation is already done.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked before each run; a long prefill is interrupted).</exception>
    public int GenerateNextToken(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsDone)
        {
            throw new InvalidOperationException($"Generation is done ({FinishReason}); create a new generator.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        int token;
        if (_pending > 0)
        {
            // Chosen by the last verification run: no model run needed.
            _pending--;
            token = _tokens[_count++];
        }
        else if (_drafter is not null && _started && SpeculativeStep(cancellationToken))
        {
            if (_pending == 0)
            {
                return -1; // the constraint allowed nothing (FinishReason is set)
            }

            _pending--;
            token = _tokens[_count++];
        }
        else
        {
            Span<float> logits;
            if (!_started)
            {
                // Prefill whatever of the prompt the rented state does not already hold (at least its last token).
                int cached = _state.Length;
                logits = _state.Append(_tokens.AsSpan(cached, _count - cached), cancellationToken);
                logits = logits[((_count - cached - 1) * Model.VocabularySize)..];
                _started = true;
            }
            else
            {
                logits = _state.Append(_tokens.AsSpan(_count - 1, 1), cancellationToken);
            }

            ModelRuns++;
            token = Choose(logits, new TokenHistory(Tokens, PromptLength), MaxNewTokens - GeneratedCount);
            if (token < 0)
            {
                FinishReason = GenerationFinishReason.ConstraintUnsatisfiable;
                return -1;
            }

            _tokens[_count++] = token;
        }

        if (Array.IndexOf(_eos, token) >= 0)
        {
            FinishReason = GenerationFinishReason.EndOfSequence;
        }
        else if (GeneratedCount >= MaxNewTokens)
        {
            FinishReason = _count >= Model.MaxLength && (Options.MaxNewTokens ?? int.MaxValue) > GeneratedCount
                ? GenerationFinishReason.ContextLength
                : GenerationFinishReason.MaxNewTokens;
        }

        return token;
    }

    /// <summary>
    /// Drafts tokens (by prompt lookup or with the draft model) and verifies them in one run: the last token plus the drafts are appended, the
    /// pipeline chooses a token at every position (with the history it would have had, drafts accepted so far included),
    /// and drafts are accepted while they equal its choice. The choice at the first mismatch (or after the last draft)
    /// is kept too. Choosing with the pipeline's own sampler and accepting a draft only when the choice equals it is the
    /// standard acceptance rule for a point-mass draft (accept with probability p(draft), otherwise a token from p with
    /// the draft removed), so sampled output keeps its distribution. The KV of rejected drafts is truncated away.
    /// </summary>
    /// <returns>False when nothing was drafted (the caller runs a plain step); otherwise the chosen tokens are at
    /// <c>_tokens[_count..]</c> and counted in <c>_pending</c>.</returns>
    private bool SpeculativeStep(CancellationToken cancellationToken)
    {
        // Never choose past the token limit, and keep last token + drafts inside the KV capacity.
        int budget = Math.Min(_drafter!.NextLength, MaxNewTokens - GeneratedCount - 1);
        budget = Math.Min(budget, _state.Capacity - _state.Length - 1);
        if (budget <= 0)
        {
            return false;
        }

        int drafted = _drafter.Draft(Tokens, _tokens.AsSpan(_count, budget), cancellationToken);
        if (drafted == 0)
        {
            return false;
        }

        int before = _state.Length;
        int vocab = Model.VocabularySize;
        Span<float> logits = _state.Append(_tokens.AsSpan(_count - 1, drafted + 1), cancellationToken);
        ModelRuns++;
        DraftedTokens += drafted;
        int chosen = 0;
        int constraintState = _constraint?.State ?? 0;
        for (int i = 0; i <= drafted; i++)
        {
            int token = Choose(logits.Slice(i * vocab, vocab), new TokenHistory(_tokens.AsSpan(0, _count + i), PromptLength), MaxNewTokens - GeneratedCount - i);
            if (token < 0)
            {
                // No allowed token at this position: keep what was chosen before it; the next plain step reports it.
                break;
            }

            bool accepted = i < drafted && token == _tokens[_count + i];
            _tokens[_count + i] = token;
            chosen = i + 1;
            if (accepted)
            {
                AcceptedDraftTokens++;
            }

            if (!accepted || Array.IndexOf(_eos, token) >= 0)
            {
                break;
            }
        }

        if (chosen == 0)
        {
            // Nothing chosen (the constraint allowed nothing at the first position): undo the run, end like a plain step.
            _state.Truncate(before);
            _constraint!.State = constraintState;
            FinishReason = GenerationFinishReason.ConstraintUnsatisfiable;
            _pending = 0;
            return true;
        }

        _drafter.Record(drafted, chosen - 1);

        // The cache keeps the fed last token and the accepted drafts before the last chosen token (fed next step).
        _state.Truncate(before + chosen);
        _pending = chosen;
        return true;
    }

    /// <summary>One position's token (see <see cref="TokenChooser.Choose"/>); -1 when the constraint allows no token.</summary>
    private int Choose(Span<float> logits, TokenHistory history, int remaining) => _chooser.Choose(logits, history, remaining);

    /// <summary>Ends generation early with the given reason (used for stop sequences).</summary>
    public void Stop(GenerationFinishReason reason) => FinishReason ??= reason;

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _drafter?.Dispose();
            Model.ReturnState(_state);
        }
    }
}
