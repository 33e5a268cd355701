namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>How <see cref="OnnxRuntimeGenAIEngine.Load"/> opens a model folder with onnxruntime-genai.</summary>
public sealed class OnnxRuntimeGenAIEngineOptions
{
    /// <summary>ONNX Runtime intra-op threads (<c>session_options.intra_op_num_threads</c>), &gt;= 1; null keeps the folder's setting.</summary>
    public int? IntraOpThreads { get; set; }

    /// <summary>
    /// Execution providers in order of preference (<c>cuda</c>, <c>dml</c>, ... as onnxruntime-genai names them;
    /// <c>cpu</c> means none). They replace the folder's <c>provider_options</c>; null keeps the folder's. A provider
    /// needs the matching native package (e.g. <c>Microsoft.ML.OnnxRuntimeGenAI.Cuda</c>).
    /// </summary>
    public IReadOnlyList<string>? ExecutionProviders { get; set; }

    /// <summary>Longest sequence (prompt plus new tokens), &gt;= 2; null uses the folder's <c>search.max_length</c>, else its <c>context_length</c>.</summary>
    public int? MaxLength { get; set; }

    /// <summary>The model id reported by default; null uses the folder's name.</summary>
    public string? ModelId { get; set; }
}
