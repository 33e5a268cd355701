using LlmKit.Chat.Templates;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;

namespace LlmKit.Chat.Tools;

/// <summary>
/// Builds the decoding constraint of a tool request from the format's pieces: each call is
/// <c>{"name": "NAME", "ARGS": &lt;JSON valid against NAME's parameter schema&gt;}</c> with NAME one of the callable functions;
/// Auto is "text not starting with the marker, or the marker and calls" (<see cref="OutputConstraint.TextOr"/>), or with
/// a response format "an answer in that format, or the marker and calls"; Required and Specific are calls only (the
/// response format is for answers, which such a turn does not give). Parallel answers hold up to
/// <see cref="MaxParallelCalls"/> calls.
/// </summary>
internal static class ToolConstraints
{
    /// <summary>Most calls one constrained answer may hold when parallel calls are allowed (the grammar is unrolled).</summary>
    public const int MaxParallelCalls = 4;

    /// <summary>
    /// <paramref name="options"/> with <see cref="GenerationOptions.Constraint"/> set for <paramref name="tools"/>; unchanged when
    /// there are no tools. A constraint already set (a response format) shapes the text answer of an automatic turn.
    /// </summary>
    /// <exception cref="NotSupportedException">
    /// The response format allows an answer that starts with the format's call marker (Llama 3.1's calls are bare
    /// <c>{"name": "</c> objects), so an answer and a call could not be told apart.
    /// </exception>
    public static GenerationOptions? Apply(GenerationOptions? options, ToolRequest? tools)
    {
        if (tools is null)
        {
            return options;
        }

        string key = Signature(tools);
        if (options?.Constraint is not { } responseFormat || tools.Choice != ToolChoice.Auto)
        {
            return (options ?? new GenerationOptions()) with { Constraint = Build(tools, key) };
        }

        var combined = WithResponseFormat.GetValue(responseFormat, _ => new(StringComparer.Ordinal))
            .GetOrAdd(key, _ => AnswerOrCalls(tools, responseFormat));
        return options with { Constraint = combined };
    }

    /// <summary>Auto-mode constraints with a response format, by format instance and tool-set signature (kept as long as the format instance lives).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<OutputConstraint, System.Collections.Concurrent.ConcurrentDictionary<string, OutputConstraint>> WithResponseFormat = [];

    private static OutputConstraint AnswerOrCalls(ToolRequest tools, OutputConstraint responseFormat)
    {
        var format = tools.Format;
        if (ConstraintAutomaton.AllowsPrefix(responseFormat, format.Marker))
        {
            throw new NotSupportedException(
                $"Tools and the response format ({responseFormat.Description}) cannot be combined with the {format.Name} tool-call format: " +
                $"an answer in that format may start with its call marker '{format.Marker}', so answers and calls could not be told apart. " +
                "Drop the response format, or require a tool call (tool mode RequireAny/RequireSpecific) for this turn.");
        }

        return OutputConstraint.AnyOf(responseFormat, OutputConstraint.Sequence(OutputConstraint.Literal(format.Marker), CallsAfterMarker(tools)));
    }

    /// <summary>Most distinct tool constraints kept compiled; beyond it the cache starts over (agents reuse a handful of tool sets).</summary>
    private const int MaxCachedConstraints = 64;

    /// <summary>
    /// Constraints by tool-set signature: a constraint instance caches its compiled automaton and token masks, so equal
    /// requests (every round of an agent loop) must get the same instance.
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, OutputConstraint> Cache = new(StringComparer.Ordinal);

    /// <summary>The constraint of <paramref name="tools"/> (signature <paramref name="key"/>), shared with every request offering the same tools the same way.</summary>
    private static OutputConstraint Build(ToolRequest tools, string key)
    {
        if (Cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        if (Cache.Count >= MaxCachedConstraints)
        {
            Cache.Clear();
        }

        return Cache.GetOrAdd(key, _ => Create(tools));
    }

    private static string Signature(ToolRequest tools)
    {
        var key = new System.Text.StringBuilder().Append(tools.Format.Name).Append('\0').Append(tools.Format.GetType().FullName).Append('\0')
            .Append(tools.Choice).Append('\0').Append(tools.Parallel);
        foreach (var tool in tools.Callable)
        {
            key.Append('\0').Append(tool.Name).Append('\0').Append(tool.ParametersSchemaJson);
        }

        return key.ToString();
    }

    private static OutputConstraint Create(ToolRequest tools)
    {
        var format = tools.Format;
        return tools.Choice == ToolChoice.Auto
            ? OutputConstraint.TextOr(format.Marker, CallsAfterMarker(tools))
            : Calls(format, Literal(format.Opening + ToolCallFormat.CallHead), CallBody(format, tools.Callable), MaxCalls(tools));
    }

    /// <summary>The calls of an answer that has already written the format's marker (automatic mode decides on the marker).</summary>
    private static OutputConstraint CallsAfterMarker(ToolRequest tools)
    {
        var format = tools.Format;
        string start = format.Opening + ToolCallFormat.CallHead;
        if (!start.StartsWith(format.Marker, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Tool-call format '{format.Name}': the marker '{format.Marker}' does not start its calls ('{start}').");
        }

        return Calls(format, Literal(start[format.Marker.Length..]), CallBody(format, tools.Callable), MaxCalls(tools));
    }

    private static int MaxCalls(ToolRequest tools) => tools.Parallel ? MaxParallelCalls : 1;

    /// <summary>What follows the call head: the name of one callable function, its arguments, the closing brace.</summary>
    private static OutputConstraint CallBody(ToolCallFormat format, IReadOnlyList<ChatTemplateTool> callable)
    {
        var alternatives = new OutputConstraint[callable.Count];
        for (int i = 0; i < callable.Count; i++)
        {
            string quotedName = PythonJson.Quote(callable[i].Name);
            alternatives[i] = OutputConstraint.Sequence(
                OutputConstraint.Literal(quotedName[1..] + ", " + PythonJson.Quote(format.ArgumentsKey) + ": "),
                ArgumentsSchema(callable[i]),
                OutputConstraint.Literal("}"));
        }

        return alternatives.Length == 1 ? alternatives[0] : OutputConstraint.AnyOf(alternatives);
    }

    private static OutputConstraint ArgumentsSchema(ChatTemplateTool tool)
    {
        try
        {
            return OutputConstraint.JsonSchema(WithoutAnnotations(string.IsNullOrWhiteSpace(tool.ParametersSchemaJson) ? "{\"type\": \"object\", \"properties\": {}}" : tool.ParametersSchemaJson));
        }
        catch (NotSupportedException ex)
        {
            throw new NotSupportedException($"Tool '{tool.Name}': its parameter schema uses JSON Schema outside what constrained decoding supports ({ex.Message}).", ex);
        }
    }

    /// <summary>
    /// Semantic Kernel writes a function's description into its parameter schema as a top-level <c>condition</c>
    /// string, which is not JSON Schema and constrains nothing; it is dropped before compiling.
    /// </summary>
    private static string WithoutAnnotations(string schema)
    {
        if (System.Text.Json.Nodes.JsonNode.Parse(schema) is System.Text.Json.Nodes.JsonObject root
            && root["condition"] is System.Text.Json.Nodes.JsonValue condition && condition.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            root.Remove("condition");
            return root.ToJsonString();
        }

        return schema;
    }

    /// <summary><paramref name="start"/> call (separator call){0,max-1} closing.</summary>
    private static OutputConstraint Calls(ToolCallFormat format, OutputConstraint? start, OutputConstraint body, int maxCalls)
    {
        OutputConstraint? rest = Literal(format.Closing);
        for (int i = 1; i < maxCalls; i++)
        {
            var another = Join(Literal(format.Separator + ToolCallFormat.CallHead), body, rest);
            rest = rest is null ? OutputConstraint.AnyOf(another, OutputConstraint.Literal("")) : OutputConstraint.AnyOf(rest, another);
        }

        return Join(start, body, rest);
    }

    private static OutputConstraint Join(params OutputConstraint?[] parts)
    {
        var present = parts.Where(p => p is not null).Cast<OutputConstraint>().ToArray();
        return present.Length == 1 ? present[0] : OutputConstraint.Sequence(present);
    }

    private static OutputConstraint? Literal(string text) => text.Length == 0 ? null : OutputConstraint.Literal(text);
}
