using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Embeddings;

/// <summary>
/// Settings of <see cref="BertOnnxEmbeddingGenerator"/>. Property names follow Semantic Kernel's ONNX connector
/// (<c>CaseSensitive</c>, <c>MaximumTokens</c>, <c>PoolingMode</c>) so its users can switch by changing a namespace.
/// </summary>
/// <remarks>
/// A null setting means "read it from the model folder, else the default": sentence-transformers files
/// (<c>modules.json</c>, <c>1_Pooling/config.json</c>, <c>sentence_bert_config.json</c>) and <c>tokenizer_config.json</c> /
/// <c>tokenizer.json</c> are read where present. A value set here wins over the folder.
/// </remarks>
public sealed record BertOnnxOptions
{
    /// <summary>Whether the vocabulary is cased (no lower-casing, no accent stripping). Null: from the folder, else false (uncased).</summary>
    public bool? CaseSensitive { get; init; }

    /// <summary>Longest input in tokens, <c>[CLS]</c> and <c>[SEP]</c> included. Null: <c>max_seq_length</c> from the folder, else 512. Allowed 3 to 8192.</summary>
    public int? MaximumTokens { get; init; }

    /// <summary>Pooling of the token vectors. Null: from <c>1_Pooling/config.json</c>, else <see cref="EmbeddingPoolingMode.Mean"/>.</summary>
    public EmbeddingPoolingMode? PoolingMode { get; init; }

    /// <summary>L2-normalise every vector (so cosine similarity is a dot product). Null: true when <c>modules.json</c> lists a Normalize module or no <c>modules.json</c> exists.</summary>
    public bool? NormalizeEmbeddings { get; init; }

    /// <summary>
    /// What to do with an input longer than <see cref="MaximumTokens"/>: true (default) keeps the first tokens and the
    /// final <c>[SEP]</c>, as sentence-transformers does; false rejects the request with an <see cref="ArgumentException"/>.
    /// </summary>
    public bool TruncateLongInput { get; init; } = true;

    /// <summary>Texts run through the model together (after sorting by length, to cut padding). Default 32; allowed 1 to 1024.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Intra-op threads of the ONNX Runtime session. Null: ONNX Runtime's default (one per physical core).</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>
    /// Execution providers in order of preference, as for LlmKit's decoder: <c>cpu</c>, <c>cuda</c>, <c>dml</c>, or any name
    /// ONNX Runtime accepts. Null: CPU. A provider missing from the ONNX Runtime build fails the load with a message naming it.
    /// </summary>
    public IReadOnlyList<string>? ExecutionProviders { get; init; }

    /// <summary>ONNX Runtime graph optimisation level. Default all optimisations.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>The model id reported in metadata and on every embedding. Null: the folder name.</summary>
    public string? ModelId { get; init; }

    internal void Validate()
    {
        if (MaximumTokens is { } max && (max < 3 || max > 8192))
        {
            throw new ArgumentOutOfRangeException(nameof(MaximumTokens), max, "MaximumTokens must be between 3 and 8192.");
        }

        if (BatchSize is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be between 1 and 1024.");
        }

        if (IntraOpThreads is { } threads && (threads < 1 || threads > 1024))
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), threads, "IntraOpThreads must be between 1 and 1024.");
        }
    }
}
