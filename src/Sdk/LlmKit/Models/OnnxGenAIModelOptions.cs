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
    }
}
