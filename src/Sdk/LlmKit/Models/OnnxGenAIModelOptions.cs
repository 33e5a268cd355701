using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Models;

/// <summary>How to open a model folder: threads, graph optimisation and execution providers.</summary>
public sealed record OnnxGenAIModelOptions
{
    /// <summary>Intra-op threads of the ONNX Runtime session; null uses the folder's setting, else ONNX Runtime's default (one per core). Must be &gt;= 1 when set.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>Graph optimisation level. Default: all optimisations.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// Execution providers in priority order (<c>cpu</c>, <c>cuda</c>, <c>dml</c>, or any name ONNX Runtime's generic
    /// AppendExecutionProvider accepts). Null uses the folder's <c>provider_options</c>; the CPU provider is always the fallback.
    /// </summary>
    public IReadOnlyList<string>? ExecutionProviders { get; init; }

    /// <summary>Length (prompt plus generated tokens) for which KV buffers are sized; null uses the folder's <c>search.max_length</c>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Reuse the KV cache of an earlier sequence that started with the same tokens, so only the new part of a prompt
    /// is prefilled: the next turn of a chat (the history up to the last reply is cached), a fixed system prompt or
    /// classification prompt, a scorer's repeated context. Default true. Up to 8 finished sequences are kept per model.
    /// Ignored (no reuse) for sliding-window models and for longrope folders whose graph switches RoPE tables at the
    /// original length (see <see cref="OnnxGenAIModel.ReusesPromptPrefixes"/>).
    /// </summary>
    /// <remarks>
    /// Results are the same up to floating-point rounding: a reused prefix was computed in a differently shaped run
    /// (one prefill instead of another), so logits can differ in the last bits and a greedy choice between two
    /// near-equal tokens can flip. Turn it off when runs must be bit-for-bit repeatable across different histories.
    /// </remarks>
    public bool ReusePromptPrefixes { get; init; } = true;

    /// <summary>
    /// Most bytes of KV cache kept in the pool of finished sequences (for prefix reuse and buffer reuse); the oldest
    /// are evicted beyond it. Default 1 GiB, and never more than 8 sequences. 0 pools nothing: every sequence allocates
    /// its own cache. Running sequences are not limited by it. See <see cref="OnnxGenAIModel.KvCacheBytesPerSequence"/>.
    /// </summary>
    public long MaxPooledKvCacheBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Most concurrent generations that share one decode run, in [1, 256]; default 8. Overlapping requests
    /// (<see cref="Generation.TextGenerationExtensions.GenerateAsync(OnnxGenAIModel, int[], Generation.GenerationOptions?, CancellationToken)"/>,
    /// the chat client and the Semantic Kernel service) then decode together: each model run reads the weights once for
    /// all of them. 1 turns batching off (every generation runs on its own). Each request still gets the tokens it would
    /// get alone. Applies to GroupQueryAttention graphs with shared KV buffers (the official builder's form) without a
    /// sliding window nor longrope table switch; see <see cref="OnnxGenAIModel.MaxBatchSize"/> for what a loaded model uses.
    /// </summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary>Receives one Information line at load (model type, max length, KV-cache bytes per sequence); null logs nothing.</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }

    internal void Validate()
    {
        if (IntraOpThreads is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "IntraOpThreads must be >= 1 (or null for the default).");
        }

        if (MaxLength is < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, "MaxLength must be >= 2 (or null for the folder's max_length).");
        }

        if (MaxBatchSize is < 1 or > OnnxGenAIModel.MaxBatchSizeLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, $"MaxBatchSize must be in [1, {OnnxGenAIModel.MaxBatchSizeLimit}] (1 turns batching off).");
        }

        if (MaxPooledKvCacheBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPooledKvCacheBytes), MaxPooledKvCacheBytes, "MaxPooledKvCacheBytes must be >= 0.");
        }
    }
}
