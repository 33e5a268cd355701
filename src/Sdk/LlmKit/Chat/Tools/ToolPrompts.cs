using System.Text;
using System.Text.Json.Nodes;
using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>
/// The tool parts of the built-in templates, each following its family's published Hugging Face <c>chat_template</c>
/// (Qwen 2.5, Llama 3.1, Mistral v0.3, Phi-4-mini) or LlmKit's generic form. Pure functions over the messages.
/// </summary>
internal static class ToolPrompts
{
    /// <summary>Compact JSON that keeps non-ASCII characters and markup characters as they are.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions CompactJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Whether a render needs the tool path: tools offered, or calls/results in the history.</summary>
    public static bool UsesTools(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options) =>
        options.Tools is { Count: > 0 } || messages.Any(m => m?.Role == ChatTemplateRole.Tool || m?.ToolCalls is { Count: > 0 });

    /// <summary><c>{"name": ..., "description": ..., "parameters": {...}}</c> as a JSON node.</summary>
    public static JsonObject Function(ChatTemplateTool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        if (string.IsNullOrWhiteSpace(tool.Name))
        {
            throw new ArgumentException("A tool has no name.", nameof(tool));
        }

        JsonNode? parameters;
        try
        {
            parameters = JsonNode.Parse(string.IsNullOrWhiteSpace(tool.ParametersSchemaJson) ? "{\"type\": \"object\", \"properties\": {}}" : tool.ParametersSchemaJson);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new ArgumentException($"The parameters schema of tool '{tool.Name}' is not valid JSON: {ex.Message}", nameof(tool), ex);
        }

        var function = new JsonObject { ["name"] = tool.Name };
        if (tool.Description is not null)
        {
            function["description"] = tool.Description;
        }

        function["parameters"] = parameters;
        return function;
    }

    /// <summary>The OpenAI-shaped tool <c>{"type": "function", "function": {...}}</c> that HF templates receive, written with <c>tojson</c>.</summary>
    public static string OpenAiTool(ChatTemplateTool tool, int? indent = null) =>
        PythonJson.Format(new JsonObject { ["type"] = "function", ["function"] = Function(tool) }.ToJsonString(), $"Tool '{tool.Name}'", indent);

    /// <summary>Qwen 2.5 (Hermes form) inside ChatML.</summary>
    public static ChatPrompt RenderQwen(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ConversationRules.RequireMessages(messages);
        var tools = options.Tools ?? [];
        var text = new StringBuilder();
        int start = 0;
        if (tools.Count > 0)
        {
            // Qwen's template opens with the system message (its own default text when there is none; LlmKit's ChatML
            // adds no default text, so the tools block then starts the system turn) and the tool signatures.
            text.Append("<|im_start|>system\n");
            if (messages[0].Role == ChatTemplateRole.System)
            {
                text.Append(messages[0].Content).Append("\n\n");
                start = 1;
            }

            text.Append("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n")
                .Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
            foreach (var tool in tools)
            {
                text.Append('\n').Append(OpenAiTool(tool));
            }

            text.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n")
                .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
        }

        for (int i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == ChatTemplateRole.Tool)
            {
                if (i == 0 || messages[i - 1].Role != ChatTemplateRole.Tool)
                {
                    text.Append("<|im_start|>user");
                }

                text.Append("\n<tool_response>\n").Append(message.Content).Append("\n</tool_response>");
                if (i == messages.Count - 1 || messages[i + 1].Role != ChatTemplateRole.Tool)
                {
                    text.Append("<|im_end|>\n");
                }
            }
            else if (message.Role == ChatTemplateRole.Assistant && message.ToolCalls is { Count: > 0 } calls)
            {
                text.Append("<|im_start|>assistant");
                if (message.Content.Length > 0)
                {
                    text.Append('\n').Append(message.Content);
                }

                foreach (var call in calls)
                {
                    text.Append('\n').Append(ToolCallFormats.Hermes.FormatCalls([call]));
                }

                text.Append("<|im_end|>\n");
            }
            else
            {
                text.Append("<|im_start|>").Append(ConversationRules.RoleName(message.Role)).Append('\n').Append(message.Content).Append("<|im_end|>\n");
            }
        }

        if (options.AddGenerationPrompt)
        {
            text.Append("<|im_start|>assistant\n");
        }

        return new ChatPrompt(text.ToString(), AddBos: null);
    }

    /// <summary>Llama 3.1 with tools: the "Environment: ipython" system header, tools in the first user message, results as role ipython.</summary>
    public static ChatPrompt RenderLlama31(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options, string dateString = "26 Jul 2024")
    {
        ConversationRules.RequireMessages(messages);
        var tools = options.Tools ?? [];
        int start = 0;
        string system = "";
        if (messages[0].Role == ChatTemplateRole.System)
        {
            system = messages[0].Content.Trim();
            start = 1;
        }

        var text = new StringBuilder("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n");
        if (tools.Count > 0)
        {
            text.Append("Environment: ipython\n");
        }

        text.Append("Cutting Knowledge Date: December 2023\nToday Date: ").Append(dateString).Append("\n\n").Append(system).Append("<|eot_id|>");
        if (tools.Count > 0)
        {
            // Meta's default (tools_in_user_message): the tools go into the first user message.
            if (start >= messages.Count)
            {
                throw new ArgumentException("The Llama 3.1 template puts the tools in the first user message, and there is none.", nameof(messages));
            }

            text.Append("<|start_header_id|>user<|end_header_id|>\n\n")
                .Append("Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n")
                .Append("Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.")
                .Append("Do not use variables.\n\n");
            foreach (var tool in tools)
            {
                text.Append(OpenAiTool(tool, indent: 4)).Append("\n\n");
            }

            text.Append(messages[start].Content.Trim()).Append("<|eot_id|>");
            start++;
        }

        for (int i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == ChatTemplateRole.Tool)
            {
                // Jinja's "iterable" test holds for strings, so Meta's template writes a string result through tojson.
                text.Append("<|start_header_id|>ipython<|end_header_id|>\n\n").Append(PythonJson.Quote(message.Content)).Append("<|eot_id|>");
            }
            else if (message.Role == ChatTemplateRole.Assistant && message.ToolCalls is { Count: > 0 } calls)
            {
                if (calls.Count != 1)
                {
                    throw new ArgumentException("The Llama 3.1 template supports a single tool call per assistant message (set AllowMultipleToolCalls to false).", nameof(messages));
                }

                text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n").Append(ToolCallFormats.Llama3Json.FormatCall(calls[0])).Append("<|eot_id|>");
            }
            else
            {
                text.Append("<|start_header_id|>").Append(ConversationRules.RoleName(message.Role)).Append("<|end_header_id|>\n\n")
                    .Append(message.Content.Trim()).Append("<|eot_id|>");
            }
        }

        if (options.AddGenerationPrompt)
        {
            text.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        return new ChatPrompt(text.ToString(), AddBos: false);
    }

    /// <summary>Mistral v0.3 with tools: <c>[AVAILABLE_TOOLS]</c> before the last user message, which also carries the system message.</summary>
    public static ChatPrompt RenderMistralV3(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ConversationRules.RequireMessages(messages);
        var tools = options.Tools ?? [];
        var (system, start) = ConversationRules.LeadingSystem(messages, ChatTemplateKind.Mistral);
        int turn = 0;
        int lastUser = -1;
        for (int i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == ChatTemplateRole.Tool || message.ToolCalls is { Count: > 0 })
            {
                continue;
            }

            if ((message.Role == ChatTemplateRole.User) != (turn % 2 == 0))
            {
                throw new ArgumentException("After the optional system message, the Mistral template requires user/assistant/user/... (tool calls and results aside).", nameof(messages));
            }

            if (message.Role == ChatTemplateRole.User)
            {
                lastUser = i;
            }

            turn++;
        }

        var text = new StringBuilder("<s>");
        for (int i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.Role == ChatTemplateRole.User)
            {
                if (tools.Count > 0 && i == lastUser)
                {
                    text.Append("[AVAILABLE_TOOLS] [");
                    for (int t = 0; t < tools.Count; t++)
                    {
                        text.Append(t == 0 ? "" : ", ").Append(MistralTool(tools[t]));
                    }

                    text.Append("][/AVAILABLE_TOOLS]");
                }

                text.Append("[INST] ");
                if (i == lastUser && system is not null)
                {
                    text.Append(system).Append("\n\n");
                }

                text.Append(message.Content).Append("[/INST]");
            }
            else if (message.ToolCalls is { Count: > 0 } calls)
            {
                text.Append("[TOOL_CALLS] [");
                for (int c = 0; c < calls.Count; c++)
                {
                    string call = ToolCallFormats.Mistral.FormatCall(calls[c]);
                    text.Append(c == 0 ? "" : ", ").Append(call, 0, call.Length - 1)
                        .Append(", \"id\": \"").Append(MistralToolCallFormat.NormalizeId(calls[c].Id)).Append("\"}");
                }

                text.Append("]</s>");
            }
            else if (message.Role == ChatTemplateRole.Assistant)
            {
                text.Append(' ').Append(message.Content.Trim()).Append("</s>");
            }
            else
            {
                text.Append("[TOOL_RESULTS] {\"content\": ").Append(message.Content).Append(", \"call_id\": \"")
                    .Append(MistralToolCallFormat.NormalizeId(message.ToolCallId ?? throw new ArgumentException($"Tool message {i} has no ToolCallId; the Mistral template needs it.", nameof(messages))))
                    .Append("\"}[/TOOL_RESULTS]");
            }
        }

        return new ChatPrompt(text.ToString(), AddBos: false);
    }

    /// <summary>Phi-3 framing with Phi-4-mini's tool block: the tools as a JSON list between <c>&lt;|tool|&gt;</c> and <c>&lt;|/tool|&gt;</c> in the system message.</summary>
    public static ChatPrompt RenderPhi4(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ConversationRules.RequireMessages(messages);
        var tools = options.Tools ?? [];
        var text = new StringBuilder();
        int start = 0;
        if (tools.Count > 0)
        {
            string system = messages[0].Role == ChatTemplateRole.System ? messages[0].Content : "";
            start = messages[0].Role == ChatTemplateRole.System ? 1 : 0;
            var list = new JsonArray();
            foreach (var tool in tools)
            {
                list.Add(Function(tool));
            }

            text.Append("<|system|>\n").Append(system).Append("<|tool|>").Append(PythonJson.Format(list.ToJsonString(), "The tool list"))
                .Append("<|/tool|><|end|>\n");
        }

        for (int i = start; i < messages.Count; i++)
        {
            var message = messages[i];
            text.Append("<|").Append(ConversationRules.RoleName(message.Role)).Append("|>\n").Append(message.Content);
            if (message.ToolCalls is { Count: > 0 } calls)
            {
                text.Append(ToolCallFormats.Phi4.FormatCalls(calls));
            }

            text.Append("<|end|>\n");
        }

        if (options.AddGenerationPrompt)
        {
            text.Append("<|assistant|>\n");
        }

        return new ChatPrompt(text.ToString(), AddBos: null);
    }

    /// <summary>
    /// LlmKit's generic form for base models: a plain-text tool list and instruction, then the messages one per line,
    /// calls in the Hermes syntax and results in <c>&lt;tool_response&gt;</c> tags.
    /// </summary>
    public static ChatPrompt RenderGeneric(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ConversationRules.RequireMessages(messages);
        var tools = options.Tools ?? [];
        var lines = new List<string>(messages.Count + 1);
        if (tools.Count > 0)
        {
            // Compact JSON: base models are small and their context short, so the list costs as few tokens as it can.
            var header = new StringBuilder("Tools:\n");
            foreach (var tool in tools)
            {
                header.Append(Function(tool).ToJsonString(CompactJson)).Append('\n');
            }

            header.Append("To call a tool, write <tool_call>\n{\"name\": ..., \"arguments\": {...}}\n</tool_call>\n");
            lines.Add(header.ToString());
        }

        foreach (var message in messages)
        {
            if (message.Role == ChatTemplateRole.Tool)
            {
                lines.Add("<tool_response>\n" + message.Content + "\n</tool_response>");
            }
            else if (message.ToolCalls is { Count: > 0 } calls)
            {
                string formatted = ToolCallFormats.Generic.FormatCalls(calls);
                lines.Add(message.Content.Length > 0 ? message.Content + "\n" + formatted : formatted);
            }
            else
            {
                lines.Add(message.Content);
            }
        }

        return new ChatPrompt(string.Join('\n', lines), AddBos: null);
    }

    private static string MistralTool(ChatTemplateTool tool)
    {
        // Mistral's template writes string values raw between quotes and other values with tojson.
        var text = new StringBuilder("{\"type\": \"function\", \"function\": {\"name\": \"").Append(tool.Name).Append('"');
        if (tool.Description is not null)
        {
            text.Append(", \"description\": \"").Append(tool.Description).Append('"');
        }

        var parameters = Function(tool)["parameters"];
        text.Append(", \"parameters\": ").Append(parameters is null ? "null" : PythonJson.Format(parameters.ToJsonString(), $"The parameters of tool '{tool.Name}'"));
        return text.Append("}}").ToString();
    }
}
