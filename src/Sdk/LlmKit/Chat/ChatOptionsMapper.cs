using System.Globalization;
using System.Text.Json;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;
using LlmKit.Generation;
using Microsoft.Extensions.AI;

namespace LlmKit.Chat;

/// <summary>Maps M.E.AI messages and <see cref="ChatOptions"/> onto templates and <see cref="GenerationOptions"/>.</summary>
internal static class ChatOptionsMapper
{
    /// <summary>Names read from <see cref="ChatOptions.AdditionalProperties"/> (other entries are left to other layers, as M.E.AI intends).</summary>
    public const string RepetitionPenalty = "repetition_penalty";

    /// <summary>See <see cref="RepetitionPenalty"/>.</summary>
    public const string MinP = "min_p";

    /// <summary>See <see cref="RepetitionPenalty"/>.</summary>
    public const string NoRepeatNGramSize = "no_repeat_ngram_size";

    /// <summary>See <see cref="RepetitionPenalty"/>: fewest new tokens before end of sequence (SK's and OpenAI-style name).</summary>
    public const string MinTokens = "min_tokens";

    /// <summary>See <see cref="RepetitionPenalty"/>: beam search (SK ONNX connector names).</summary>
    public const string NumBeams = "num_beams";

    /// <summary>See <see cref="NumBeams"/>.</summary>
    public const string NumReturnSequences = "num_return_sequences";

    /// <summary>See <see cref="NumBeams"/>.</summary>
    public const string LengthPenalty = "length_penalty";

    /// <summary>See <see cref="NumBeams"/>.</summary>
    public const string EarlyStopping = "early_stopping";

    /// <summary>See <see cref="RepetitionPenalty"/>: speculative decoding by prompt lookup with up to this many draft tokens (0 or absent: off).</summary>
    public const string PromptLookupDraftTokens = "prompt_lookup_draft_tokens";

    /// <summary>See <see cref="RepetitionPenalty"/>: the name of a loaded LoRA adapter to run with (absent: the base model).</summary>
    public const string Adapter = "adapter";

    /// <summary>
    /// See <see cref="RepetitionPenalty"/>: an <see cref="Generation.Constraints.OutputConstraint"/> for the reply (a regex,
    /// a choice...), for constraints a response format cannot express; not together with a JSON response format.
    /// </summary>
    public const string OutputConstraintKey = "output_constraint";

    public static GenerationOptions? ToGenerationOptions(ChatOptions? options)
    {
        if (options is null)
        {
            return null;
        }

        var extra = options.AdditionalProperties;
        return new GenerationOptions
        {
            Temperature = options.Temperature,
            TopP = options.TopP,
            TopK = options.TopK,
            MaxNewTokens = options.MaxOutputTokens,
            StopSequences = options.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            Seed = options.Seed,
            FrequencyPenalty = options.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty,
            RepetitionPenalty = ReadSingle(extra, RepetitionPenalty),
            MinP = ReadSingle(extra, MinP),
            NoRepeatNGramSize = ReadSingle(extra, NoRepeatNGramSize) is { } n ? checked((int)n) : null,
            MinNewTokens = ReadSingle(extra, MinTokens) is { } m ? checked((int)m) : null,
            NumBeams = ReadSingle(extra, NumBeams) is { } b ? checked((int)b) : null,
            NumReturnSequences = ReadSingle(extra, NumReturnSequences) is { } r ? checked((int)r) : null,
            LengthPenalty = ReadSingle(extra, LengthPenalty),
            EarlyStopping = ReadBoolean(extra, EarlyStopping),
            PromptLookup = ReadSingle(extra, PromptLookupDraftTokens) is { } d && d != 0 ? new PromptLookupOptions { DraftTokens = checked((int)d) } : null,
            Adapter = ReadString(extra, Adapter),
            Constraint = ReadConstraint(options),
        };
    }

    /// <summary>Converts messages; <paramref name="instructions"/> (ChatOptions.Instructions) join a leading system message or become one.</summary>
    public static List<ChatTemplateMessage> ToTemplateMessages(IEnumerable<ChatMessage> messages, string? instructions = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var result = new List<ChatTemplateMessage>();
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var message in messages)
        {
            if (message is null)
            {
                throw new ArgumentException("A chat message is null.", nameof(messages));
            }

            foreach (var content in message.Contents)
            {
                if (content is not TextContent and not TextReasoningContent and not UsageContent and not FunctionCallContent and not FunctionResultContent)
                {
                    throw new NotSupportedException($"Message content of type {content.GetType().Name} is not supported by OnnxChatClient (text, function calls and function results only).");
                }
            }

            if (message.Role == ChatRole.Tool)
            {
                result.AddRange(ChatToolMapper.ToToolMessages(message, callNames));
                continue;
            }

            var calls = ChatToolMapper.ToTemplateCalls(message);
            calls?.ForEach(call => callNames[call.Id] = call.Name);
            result.Add(new ChatTemplateMessage(ToTemplateRole(message.Role), message.Text) { ToolCalls = calls });
        }

        if (!string.IsNullOrEmpty(instructions))
        {
            // Several templates accept one system message, first; so instructions extend it rather than add a second.
            if (result.Count > 0 && result[0].Role == ChatTemplateRole.System)
            {
                result[0] = result[0] with { Content = result[0].Content + "\n" + instructions };
            }
            else
            {
                result.Insert(0, new ChatTemplateMessage(ChatTemplateRole.System, instructions));
            }
        }

        return result;
    }

    public static ChatTemplateRole ToTemplateRole(ChatRole role)
    {
        if (role == ChatRole.System)
        {
            return ChatTemplateRole.System;
        }

        if (role == ChatRole.User)
        {
            return ChatTemplateRole.User;
        }

        if (role == ChatRole.Assistant)
        {
            return ChatTemplateRole.Assistant;
        }

        if (role == ChatRole.Tool)
        {
            return ChatTemplateRole.Tool;
        }

        throw new NotSupportedException($"Chat role '{role}' is not supported by OnnxChatClient (system, user, assistant and tool only).");
    }

    /// <summary>The finish reason of a response whose constraint (response format) allowed no token: the output is incomplete.</summary>
    public static readonly ChatFinishReason ConstraintUnsatisfiable = new("constraint_unsatisfiable");

    /// <summary>The finish reason of an answer: <see cref="ChatFinishReason.ToolCalls"/> when it holds calls.</summary>
    public static ChatFinishReason ToFinishReason(GenerationFinishReason reason, bool hasToolCalls) =>
        hasToolCalls ? ChatFinishReason.ToolCalls : ToFinishReason(reason);

    public static ChatFinishReason ToFinishReason(GenerationFinishReason reason) => reason switch
    {
        GenerationFinishReason.MaxNewTokens or GenerationFinishReason.ContextLength => ChatFinishReason.Length,
        GenerationFinishReason.ConstraintUnsatisfiable => ConstraintUnsatisfiable,
        _ => ChatFinishReason.Stop,
    };

    private static Generation.Constraints.OutputConstraint? ReadConstraint(ChatOptions options)
    {
        if (options.AdditionalProperties?.TryGetValue(OutputConstraintKey, out object? value) is not true || value is null)
        {
            return ResponseFormatConstraints.From(options.ResponseFormat);
        }

        if (value is not Generation.Constraints.OutputConstraint constraint)
        {
            throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{OutputConstraintKey}\"] must be an OutputConstraint, not {value.GetType().Name}.", nameof(options));
        }

        if (options.ResponseFormat is ChatResponseFormatJson)
        {
            throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{OutputConstraintKey}\"] and a JSON ResponseFormat are both set; use one.", nameof(options));
        }

        return constraint;
    }

    private static bool? ReadBoolean(AdditionalPropertiesDictionary? extra, string name)
    {
        if (extra is null || !extra.TryGetValue(name, out object? value) || value is null)
        {
            return null;
        }

        return value switch
        {
            bool b => b,
            string text when bool.TryParse(text, out bool parsed) => parsed,
            System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.True } => true,
            System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.False } => false,
            _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{name}\"] must be true or false (got '{value}').", name),
        };
    }

    private static string? ReadString(AdditionalPropertiesDictionary? extra, string name)
    {
        if (extra is null || !extra.TryGetValue(name, out object? value) || value is null)
        {
            return null;
        }

        return value switch
        {
            string text => text,
            JsonElement { ValueKind: JsonValueKind.String } json => json.GetString(),
            JsonElement { ValueKind: JsonValueKind.Null } => null,
            _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{name}\"] must be a string (got '{value}').", name),
        };
    }

    private static float? ReadSingle(AdditionalPropertiesDictionary? extra, string name)
    {
        if (extra is null || !extra.TryGetValue(name, out object? value) || value is null)
        {
            return null;
        }

        try
        {
            return value switch
            {
                JsonElement { ValueKind: JsonValueKind.Number } json => json.GetSingle(),
                JsonElement { ValueKind: JsonValueKind.String } json => float.Parse(json.GetString()!, CultureInfo.InvariantCulture),
                string text => float.Parse(text, CultureInfo.InvariantCulture),
                IConvertible convertible => convertible.ToSingle(CultureInfo.InvariantCulture),
                _ => throw new FormatException(),
            };
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException or InvalidOperationException)
        {
            throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{name}\"] must be a number (got '{value}').", name, ex);
        }
    }
}
