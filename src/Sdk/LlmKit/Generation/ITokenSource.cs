namespace LlmKit.Generation;

/// <summary>
/// Where <see cref="TextGenerationRun"/> gets a sequence's tokens: a <see cref="Generator"/> run on the caller's thread
/// (<see cref="GeneratorTokenSource"/>) or a <see cref="Batching.BatchedSequence"/> decoded with other requests.
/// Both return the same tokens and finish reasons for the same prompt and settings.
/// </summary>
internal interface ITokenSource : IDisposable
{
    GenerationOptions Options { get; }

    int PromptLength { get; }

    int GeneratedCount { get; }

    ReadOnlySpan<int> GeneratedTokens { get; }

    int CachedPromptTokens { get; }

    int DraftedTokens { get; }

    int AcceptedDraftTokens { get; }

    GenerationFinishReason? FinishReason { get; }

    bool IsDone { get; }

    /// <summary>True when tokens come from a shared batch (the wait is asynchronous); false when <see cref="NextAsync"/> runs the model inline.</summary>
    bool UsesBatching { get; }

    /// <summary>The next token. For a generator this runs the model synchronously and completes at once.</summary>
    ValueTask<int> NextAsync(CancellationToken cancellationToken);

    /// <summary>Ends generation early with the given reason (stop sequences).</summary>
    void Stop(GenerationFinishReason reason);
}

/// <summary>A <see cref="Generator"/> as an <see cref="ITokenSource"/>.</summary>
internal sealed class GeneratorTokenSource(Generator generator) : ITokenSource
{
    public Generator Generator => generator;

    public GenerationOptions Options => generator.Options;

    public int PromptLength => generator.PromptLength;

    public int GeneratedCount => generator.GeneratedCount;

    public ReadOnlySpan<int> GeneratedTokens => generator.GeneratedTokens;

    public int CachedPromptTokens => generator.CachedPromptTokens;

    public int DraftedTokens => generator.DraftedTokens;

    public int AcceptedDraftTokens => generator.AcceptedDraftTokens;

    public GenerationFinishReason? FinishReason => generator.FinishReason;

    public bool IsDone => generator.IsDone;

    public bool UsesBatching => false;

    public ValueTask<int> NextAsync(CancellationToken cancellationToken) => new(generator.GenerateNextToken(cancellationToken));

    public void Stop(GenerationFinishReason reason) => generator.Stop(reason);

    public void Dispose() => generator.Dispose();
}
