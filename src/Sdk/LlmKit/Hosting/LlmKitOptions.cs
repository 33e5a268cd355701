using LlmKit.Chat.Templates;
using LlmKit.Generation;

namespace LlmKit.Hosting;

/// <summary>
/// Configuration of one local model registration, usually bound from a configuration section such as
/// <c>"LlmKit"</c>. Validated when the host starts (<c>ValidateOnStart</c>) and again on first use.
/// </summary>
public sealed class LlmKitOptions
{
    /// <summary>The default configuration section name.</summary>
    public const string SectionName = "LlmKit";

    /// <summary>Path of an ONNX GenAI model folder (<c>genai_config.json</c>, the decoder ONNX file, a tokenizer). Required.</summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// Which engine runs the model: <c>LlmKit</c> (the default, LlmKit's own generation loop on
    /// Microsoft.ML.OnnxRuntime) or the name of an engine package registered on the same services, e.g.
    /// <c>OnnxRuntimeGenAI</c> (package <c>LlmKit.OnnxRuntimeGenAI</c>, registered with <c>UseOnnxRuntimeGenAI()</c>).
    /// Case-insensitive. The chat client, the Semantic Kernel services, the token scorer and the tokenizer are the same
    /// services whichever engine runs.
    /// </summary>
    public string? Engine { get; set; }

    /// <summary>Model id reported by the chat services; default: the folder's name.</summary>
    public string? ModelId { get; set; }

    /// <summary>Chat template; default <see cref="ChatTemplateKind.Auto"/> (recognised from the folder).</summary>
    public ChatTemplateKind ChatTemplate { get; set; } = ChatTemplateKind.Auto;

    /// <summary>ONNX Runtime intra-op threads, &gt;= 1; null uses the folder's setting or one per core.</summary>
    public int? IntraOpThreads { get; set; }

    /// <summary>Execution provider (<c>cpu</c>, <c>cuda</c>, <c>dml</c>, ...); null uses the folder's <c>provider_options</c>. CPU is always the fallback.</summary>
    public string? ExecutionProvider { get; set; }

    /// <summary>Longest sequence (prompt plus new tokens) to size KV buffers for, &gt;= 2; null uses the folder's <c>search.max_length</c>.</summary>
    public int? MaxLength { get; set; }

    /// <summary>
    /// Reuse the KV cache of an earlier sequence with the same start (the next chat turn prefills only its new part);
    /// default true. See <see cref="Models.OnnxGenAIModelOptions.ReusePromptPrefixes"/>.
    /// </summary>
    public bool ReusePromptPrefixes { get; set; } = true;

    /// <summary>
    /// Most KV-cache bytes the model keeps pooled for finished sequences, &gt;= 0; default 1 GiB. See
    /// <see cref="Models.OnnxGenAIModelOptions.MaxPooledKvCacheBytes"/>.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, long.MaxValue)]
    public long MaxPooledKvCacheBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Most overlapping requests decoded together in one model run, in [1, 256]; default 8; 1 turns batching off. Each
    /// request still gets the tokens it would get alone. See <see cref="Models.OnnxGenAIModelOptions.MaxBatchSize"/>
    /// (LlmKit engine only).
    /// </summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// LoRA adapters to load with the model (section <c>Adapters</c>): name → <c>.onnx_adapter</c> file. Requests select one
    /// by name (<see cref="GenerationOptions.Adapter"/>, <c>ChatOptions.AdditionalProperties["adapter"]</c>, SK's <c>adapter</c>).
    /// </summary>
    public IDictionary<string, string> Adapters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Default generation settings (section <c>Generation</c>): used where a request leaves a value unset.</summary>
    public GenerationOptions Generation { get; set; } = new();
}
