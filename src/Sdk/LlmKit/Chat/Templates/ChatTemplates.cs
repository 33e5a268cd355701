using LlmKit.Models;
using LlmKit.Tokenization;

namespace LlmKit.Chat.Templates;

/// <summary>Creates the built-in templates, and picks a model folder's template: its own Jinja template, else a built-in family.</summary>
public static class ChatTemplates
{
    /// <summary>The template of a built-in family.</summary>
    /// <param name="kind">Any kind but <see cref="ChatTemplateKind.Auto"/> and <see cref="ChatTemplateKind.Folder"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is Auto, Folder or undefined.</exception>
    public static IChatTemplate Create(ChatTemplateKind kind) => kind switch
    {
        ChatTemplateKind.None => new PlainTextTemplate(),
        ChatTemplateKind.ChatML => new ChatMLTemplate(),
        ChatTemplateKind.Llama2 => new Llama2ChatTemplate(),
        ChatTemplateKind.Llama3 => new Llama3ChatTemplate(),
        ChatTemplateKind.Phi3 => new Phi3ChatTemplate(),
        ChatTemplateKind.Mistral => new MistralChatTemplate(),
        ChatTemplateKind.Gemma => new GemmaChatTemplate(),
        ChatTemplateKind.Zephyr => new ZephyrChatTemplate(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Choose a concrete template (None, ChatML, Llama2, Llama3, Phi3, Mistral, Gemma, Zephyr); Auto and Folder are resolved against a model folder with Resolve."),
    };

    /// <summary>The template for <paramref name="model"/>; see <see cref="Resolve(TokenizerConfig, string?, ChatTemplateKind)"/>.</summary>
    /// <exception cref="ChatTemplateException">The folder's template cannot be used and no built-in family fits.</exception>
    public static IChatTemplate Resolve(OnnxGenAIModel model, ChatTemplateKind kind = ChatTemplateKind.Auto)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Resolve(model.Tokenizer.Config, model.Config.Model.Type, kind);
    }

    /// <summary>
    /// The template for a folder. <see cref="ChatTemplateKind.Auto"/>: the folder's own template (<see cref="JinjaChatTemplate"/>)
    /// when it parses; when it does not, the built-in family <see cref="Detect"/> recognises; without a template, the
    /// model type decides (<see cref="Detect"/>). <see cref="ChatTemplateKind.Folder"/>: the folder's template or an error.
    /// Any other kind: that built-in family.
    /// </summary>
    /// <param name="tokenizerConfig">The folder's tokenizer configuration.</param>
    /// <param name="modelType"><c>genai_config.json</c>'s <c>model.type</c>.</param>
    /// <param name="kind">The requested kind.</param>
    /// <exception cref="ChatTemplateException">The folder's template cannot be used and no built-in family fits; the message says both.</exception>
    public static IChatTemplate Resolve(TokenizerConfig tokenizerConfig, string? modelType, ChatTemplateKind kind = ChatTemplateKind.Auto) =>
        Resolve(tokenizerConfig, modelType, kind, out _);

    /// <summary>As the public overload; <paramref name="fallbackReason"/> says why the folder's template was passed over for a built-in one.</summary>
    internal static IChatTemplate Resolve(TokenizerConfig tokenizerConfig, string? modelType, ChatTemplateKind kind, out string? fallbackReason)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfig);
        fallbackReason = null;
        if (kind == ChatTemplateKind.Folder)
        {
            return JinjaChatTemplate.FromTokenizerConfig(tokenizerConfig);
        }

        if (kind != ChatTemplateKind.Auto)
        {
            return Create(kind);
        }

        if (string.IsNullOrWhiteSpace(tokenizerConfig.ChatTemplate))
        {
            return Create(Detect(tokenizerConfig, modelType));
        }

        ChatTemplateException parseError;
        try
        {
            return JinjaChatTemplate.FromTokenizerConfig(tokenizerConfig);
        }
        catch (ChatTemplateException ex)
        {
            parseError = ex;
        }

        try
        {
            var family = Detect(tokenizerConfig, modelType);
            fallbackReason = $"The folder's chat template is outside LlmKit's Jinja subset ({parseError.Message}); using the built-in {family} template instead.";
            return Create(family);
        }
        catch (ChatTemplateException noFamily)
        {
            throw new ChatTemplateException($"The folder's chat template is outside LlmKit's Jinja subset ({parseError.Message}), and as a fallback: {noFamily.Message}", parseError);
        }
    }

    /// <summary>
    /// Recognises a family from the distinctive markers of a folder's Jinja <c>chat_template</c>; <c>[INST]</c>
    /// templates are told apart by <c>&lt;&lt;SYS&gt;&gt;</c> (Llama 2) and the model type (<c>mistral</c>).
    /// A folder without a chat template is a base model (<see cref="ChatTemplateKind.None"/>) unless its model type only
    /// ships as a chat family (<c>phi3</c>, <c>qwen2</c>, <c>gemma</c>...).
    /// </summary>
    /// <param name="tokenizerConfig">The folder's <c>tokenizer_config.json</c>.</param>
    /// <param name="modelType"><c>genai_config.json</c>'s <c>model.type</c>.</param>
    /// <exception cref="ChatTemplateException">The folder has a chat template that matches no built-in family.</exception>
    /// <remarks>Only the built-in families: <see cref="Resolve(TokenizerConfig, string?, ChatTemplateKind)"/> prefers the folder's own template.</remarks>
    public static ChatTemplateKind Detect(TokenizerConfig tokenizerConfig, string? modelType)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfig);
        string type = (modelType ?? "").ToLowerInvariant();
        string? template = tokenizerConfig.ChatTemplate;
        if (string.IsNullOrWhiteSpace(template))
        {
            return type switch
            {
                "phi3" or "phi3small" or "phimoe" => ChatTemplateKind.Phi3,
                "qwen2" or "qwen3" => ChatTemplateKind.ChatML,
                "gemma" or "gemma2" or "gemma3_text" => ChatTemplateKind.Gemma,
                _ => ChatTemplateKind.None,
            };
        }

        if (Has(template, "<|im_start|>"))
        {
            return ChatTemplateKind.ChatML;
        }

        if (Has(template, "<|start_header_id|>"))
        {
            return ChatTemplateKind.Llama3;
        }

        if (Has(template, "<start_of_turn>"))
        {
            return ChatTemplateKind.Gemma;
        }

        if (Has(template, "<|user|>"))
        {
            return Has(template, "<|end|>") ? ChatTemplateKind.Phi3 : ChatTemplateKind.Zephyr;
        }

        if (Has(template, "[INST]"))
        {
            return Has(template, "<<SYS>>") && type != "mistral" ? ChatTemplateKind.Llama2 : ChatTemplateKind.Mistral;
        }

        string excerpt = template.Length > 120 ? template[..120] + "..." : template;
        throw new ChatTemplateException(
            $"The model folder's chat_template (model type '{modelType}') matches no built-in template: \"{excerpt}\". " +
            "Set LlmKitOptions.ChatTemplate (ChatAgent: --template) to one of None, ChatML, Llama2, Llama3, Phi3, Mistral, Gemma, Zephyr.");
    }

    private static bool Has(string template, string marker) => template.Contains(marker, StringComparison.Ordinal);
}

/// <summary>
/// A model folder's chat template is not one LlmKit can use (the message names the option to set), or a template refused
/// a conversation (<c>raise_exception</c>; the message carries the template's own text) or failed while rendering.
/// </summary>
public sealed class ChatTemplateException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ChatTemplateException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Encodes a rendered prompt with a model's tokenizer.</summary>
internal static class ChatPromptEncoder
{
    /// <summary>A leading BOS text becomes the BOS id (robust even when the tokenizer does not list it as an added token).</summary>
    public static int[] Encode(ModelTokenizer tokenizer, ChatPrompt prompt)
    {
        string? bos = tokenizer.Config.BosToken;
        if (tokenizer.BosTokenId >= 0 && !string.IsNullOrEmpty(bos) && prompt.Text.StartsWith(bos, StringComparison.Ordinal))
        {
            int[] rest = tokenizer.Encode(prompt.Text[bos.Length..], addBos: false);
            var ids = new int[rest.Length + 1];
            ids[0] = tokenizer.BosTokenId;
            rest.CopyTo(ids, 1);
            return ids;
        }

        return tokenizer.Encode(prompt.Text, prompt.AddBos);
    }
}
