using LlmKit.Tokenization;

namespace LlmKit.Generation;

/// <summary>
/// A loaded model that LlmKit's chat client (<see cref="Chat.OnnxChatClient"/>) and Semantic Kernel service
/// (<see cref="Chat.OnnxGenAIChatCompletionService"/>) generate with: LlmKit's own engine
/// (<see cref="Models.OnnxGenAIModel"/>) or another one, such as the onnxruntime-genai engine in the
/// <c>LlmKit.OnnxRuntimeGenAI</c> package. Chat templates, option merging and validation, stop sequences and the
/// M.E.AI / Semantic Kernel mapping stay in LlmKit; an engine turns prompt token ids into generated tokens and text.
/// </summary>
/// <remarks>Implementations are thread-safe: concurrent generations on one engine are independent.</remarks>
public interface IGenerationEngine
{
    /// <summary>The model id reported by default (usually the model folder's name).</summary>
    string ModelId { get; }

    /// <summary><c>genai_config.json</c>'s <c>model.type</c> (e.g. <c>llama</c>, <c>gpt2</c>); chat templates are recognised from it.</summary>
    string ModelType { get; }

    /// <summary>The tokenizer prompts are encoded with and generated tokens decoded with.</summary>
    ModelTokenizer Tokenizer { get; }

    /// <summary>The most tokens (prompt plus generated) one sequence can hold.</summary>
    int MaxLength { get; }

    /// <summary>Generates a completion of a tokenized prompt.</summary>
    /// <param name="promptTokens">The prompt's token ids (BOS included when the model uses it); not empty.</param>
    /// <param name="options">Settings; null (or null values) fall back to the model folder's <c>search</c> defaults.</param>
    /// <param name="cancellationToken">Checked before every token.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary or does not fit <see cref="MaxLength"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="NotSupportedException">The engine cannot honour a setting; the message names it.</exception>
    Task<GenerationResult> GenerateAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Streams a completion of a tokenized prompt: one update per generated token; the last carries the finish reason.</summary>
    /// <param name="promptTokens">The prompt's token ids (BOS included when the model uses it); not empty.</param>
    /// <param name="options">Settings; null (or null values) fall back to the model folder's <c>search</c> defaults.</param>
    /// <param name="cancellationToken">Checked before every token.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary or does not fit <see cref="MaxLength"/>.</exception>
    /// <exception cref="NotSupportedException">The engine cannot honour a setting; the message names it.</exception>
    IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default);
}
