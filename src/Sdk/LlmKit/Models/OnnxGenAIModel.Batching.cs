using LlmKit.Generation;
using LlmKit.Generation.Batching;
using LlmKit.Generation.Constraints;

namespace LlmKit.Models;

/// <summary>Batched serving: overlapping generations share decode runs (see <see cref="BatchScheduler"/>).</summary>
public sealed partial class OnnxGenAIModel
{
    /// <summary>The largest <see cref="OnnxGenAIModelOptions.MaxBatchSize"/> accepted.</summary>
    public const int MaxBatchSizeLimit = 256;

    private readonly Lock _batchingLock = new();
    private BatchScheduler? _scheduler;
    private bool _batchingClosed;

    /// <summary>
    /// Most generations this model decodes together in one run: <see cref="OnnxGenAIModelOptions.MaxBatchSize"/>, lowered
    /// so that that many full-length KV caches fit in half the memory available to the process. 1 when batching is off:
    /// by that option, or because the graph is not a GroupQueryAttention graph with shared fp32 KV buffers and fp32 logits
    /// (the Standard form, combined GPT-2 KV, fp16 folders), the model has a sliding window, or its graph switches
    /// longrope RoPE tables at the original length or uses dynamic NTK RoPE (the rotation would read the whole batch's length).
    /// </summary>
    /// <remarks>
    /// Batching is used for greedy and sampled generation through <see cref="TextGenerationExtensions"/> (and so the chat
    /// client and the Semantic Kernel service), constrained requests (<see cref="GenerationOptions.Constraint"/>) included.
    /// Beam search, adapters (<see cref="GenerationOptions.Adapter"/>) and speculation
    /// (<see cref="GenerationOptions.PromptLookup"/>, <see cref="GenerationOptions.DraftModel"/>) run on their own, as does a <see cref="Generator"/> created directly.
    /// A batched request gets the tokens it would get alone; a lone request also goes through the batch (of one).
    /// </remarks>
    public int MaxBatchSize { get; }

    /// <summary>
    /// A token source for one generation: a sequence in the shared batch when the model and settings allow it, else a
    /// <see cref="Generator"/>. Validates like <see cref="CreateGenerator"/>.
    /// </summary>
    internal ITokenSource CreateTokenSource(ReadOnlySpan<int> promptTokens, GenerationOptions? options, CancellationToken cancellationToken)
    {
        var resolved = ResolveFor(promptTokens, options);
        // Adapters bind their own weights: those run on their own. Constrained requests batch (each sequence has its own matcher).
        if (MaxBatchSize < 2 || resolved.NumBeams > 1 || resolved.PromptLookup is not null || resolved.DraftModel is not null || resolved.Adapter is not null)
        {
            return new GeneratorTokenSource(CreateGenerator(promptTokens, options));
        }

        return Scheduler().Submit(promptTokens, resolved, CreatePipeline(resolved), CreateMatcher(resolved), cancellationToken);
    }

    /// <summary>Submits a generation to <paramref name="scheduler"/> (tests drive a scheduler without its own thread).</summary>
    internal BatchedSequence Submit(BatchScheduler scheduler, ReadOnlySpan<int> promptTokens, GenerationOptions? options, CancellationToken cancellationToken)
    {
        var resolved = ResolveFor(promptTokens, options);
        return scheduler.Submit(promptTokens, resolved, CreatePipeline(resolved), CreateMatcher(resolved), cancellationToken);
    }

    /// <summary>A fresh matcher for the request's constraint (the compiled automaton is shared), or null without one.
    /// Built on the caller's thread, so compiling a new constraint never holds up the batch.</summary>
    private ConstraintMatcher? CreateMatcher(GenerationOptions resolved) =>
        resolved.Constraint is { } constraint ? new ConstraintMatcher(GetConstraintAutomaton(constraint)) : null;

    /// <summary>The batch scheduler, created on first use (its KV memory is committed only as rows fill it).</summary>
    internal BatchScheduler Scheduler()
    {
        if (Volatile.Read(ref _scheduler) is { } existing)
        {
            return existing;
        }

        lock (_batchingLock)
        {
            ObjectDisposedException.ThrowIf(_disposed || _batchingClosed, this);
            return _scheduler ??= new BatchScheduler(this, MaxBatchSize);
        }
    }

    private LogitsPipeline CreatePipeline(GenerationOptions resolved) =>
        LogitsPipeline.Create(resolved, VocabularySize, Config.Model.EosTokenIds);

    /// <summary>The batch size to use: the option, if the graph allows batching and that many sequences fit in memory.</summary>
    private int BatchRows(int requested)
    {
        // fp16 KV or logits would work the same way but no fp16 GQA shared-buffer folder is tested yet: not batched.
        // A rotation that depends on the run length would read the batch's longest row: not batched.
        if (requested < 2 || !SharesKvBuffer || Signature.CombinedKv || SlidingWindow is not null || RotationDependsOnRunLength
            || Signature.KvType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float
            || Signature.LogitsType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
        {
            return 1;
        }

        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        long fits = available / Math.Max(1, KvCacheBytesPerSequence);
        int rows = (int)Math.Min(requested, fits);
        return rows < 2 ? 1 : rows;
    }

    private void DisposeBatching()
    {
        BatchScheduler? scheduler;
        lock (_batchingLock)
        {
            scheduler = _scheduler;
            _scheduler = null;
            _batchingClosed = true;
        }

        scheduler?.Dispose();
    }
}
