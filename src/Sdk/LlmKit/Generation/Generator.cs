using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>
/// Generates one sequence token by token: the first call prefills the whole prompt in one run, each later
/// call runs one decode step with the KV cache carried over. Works on token ids; see
/// <see cref="TextGenerationExtensions"/> for text, streaming and stop sequences.
/// </summary>
/// <remarks>Not thread-safe: one generator per sequence (many generators may share one model concurrently).
/// A decode step allocates no managed memory.</remarks>
public sealed class Generator : IDisposable
{
    private readonly DecoderState _state;
    private readonly LogitsPipeline _pipeline;
    private readonly int[] _tokens;
    private readonly int[] _eos;
    private int _count;
    private bool _started;
    private bool _disposed;

    internal Generator(OnnxGenAIModel model, ReadOnlySpan<int> prompt, GenerationOptions options, LogitsPipeline pipeline)
    {
        Model = model;
        Options = options;
        _pipeline = pipeline;
        _state = model.RentState(prompt);
        CachedPromptTokens = _state.Length;
        _tokens = new int[model.MaxLength];
        prompt.CopyTo(_tokens);
        _count = prompt.Length;
        PromptLength = prompt.Length;
        MaxNewTokens = Math.Min(options.MaxNewTokens ?? int.MaxValue, model.MaxLength - prompt.Length);
        _eos = model.Config.Model.EosTokenIds;
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

    /// <summary>True once an end-of-sequence token, the token limit or the max length was reached (or <see cref="Stop"/> was called).</summary>
    public bool IsDone => FinishReason is not null;

    /// <summary>Why generation ended; null while it goes on.</summary>
    public GenerationFinishReason? FinishReason { get; private set; }

    /// <summary>Runs the model once and returns the next token (appended to <see cref="Tokens"/>).</summary>
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

        int token = _pipeline.Next(logits, new TokenHistory(Tokens, PromptLength));
        _tokens[_count++] = token;
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

    /// <summary>Ends generation early with the given reason (used for stop sequences).</summary>
    public void Stop(GenerationFinishReason reason) => FinishReason ??= reason;

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Model.ReturnState(_state);
        }
    }
}
