using System.Text;

namespace LlmKit.Plugins.FewShot.Rendering;

/// <summary>
/// Renders examples as one text block for completion-style prompts. Templates use the placeholders
/// <c>{input}</c>, <c>{output}</c> and <c>{label}</c>; write <c>{{</c> and <c>}}</c> for literal braces.
/// The result is: [prefix + separator] example₁ separator … exampleₙ separator query.
/// </summary>
/// <remarks>Immutable and thread-safe; templates are parsed once, at construction.</remarks>
public sealed class FewShotTextTemplate
{
    private readonly Segment[] _example;
    private readonly Segment[] _query;

    /// <summary>Creates a template.</summary>
    /// <param name="exampleTemplate">Template of one example. Default "Input: {input}\nOutput: {output}".</param>
    /// <param name="queryTemplate">Template of the real input; must contain {input}. Default "Input: {input}\nOutput:".</param>
    /// <param name="separator">Text between blocks. Default a blank line.</param>
    /// <param name="prefix">Optional instruction placed first.</param>
    /// <exception cref="ArgumentException">A template has an unknown placeholder, an unbalanced brace, or the query template lacks {input}.</exception>
    public FewShotTextTemplate(
        string exampleTemplate = "Input: {input}\nOutput: {output}",
        string queryTemplate = "Input: {input}\nOutput:",
        string separator = "\n\n",
        string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(exampleTemplate);
        ArgumentNullException.ThrowIfNull(queryTemplate);
        ArgumentNullException.ThrowIfNull(separator);
        _example = Parse(exampleTemplate, nameof(exampleTemplate));
        _query = Parse(queryTemplate, nameof(queryTemplate));
        if (!_query.Any(s => s.Field == Field.Input))
        {
            throw new ArgumentException("The query template must contain {input}, or the real input would never reach the model.", nameof(queryTemplate));
        }

        Separator = separator;
        Prefix = prefix;
    }

    /// <summary>Text between blocks.</summary>
    public string Separator { get; }

    /// <summary>Instruction placed first, or null.</summary>
    public string? Prefix { get; }

    private enum Field
    {
        Literal,
        Input,
        Output,
        Label,
    }

    /// <summary>Renders the prompt text.</summary>
    /// <param name="selected">Selected examples, best first.</param>
    /// <param name="input">The real input.</param>
    /// <param name="ordering">Where the best example goes.</param>
    public string Render(IReadOnlyList<SelectedExample> selected, string input, ExampleOrdering ordering = ExampleOrdering.MostSimilarLast)
    {
        ArgumentNullException.ThrowIfNull(selected);
        ArgumentNullException.ThrowIfNull(input);
        var text = new StringBuilder();
        if (!string.IsNullOrEmpty(Prefix))
        {
            text.Append(Prefix).Append(Separator);
        }

        foreach (var example in FewShotPromptRenderer.Order(selected, ordering))
        {
            Append(text, _example, example.Input, example.Output, example.Label);
            text.Append(Separator);
        }

        Append(text, _query, input, output: string.Empty, label: string.Empty);
        return text.ToString();
    }

    private static void Append(StringBuilder text, Segment[] segments, string input, string output, string? label)
    {
        foreach (var segment in segments)
        {
            text.Append(segment.Field switch
            {
                Field.Input => input,
                Field.Output => output,
                Field.Label => label ?? string.Empty,
                _ => segment.Literal,
            });
        }
    }

    private static Segment[] Parse(string template, string parameterName)
    {
        var segments = new List<Segment>();
        var literal = new StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                literal.Append(c);
                i++;
                continue;
            }

            if (c == '}')
            {
                throw new ArgumentException($"Unbalanced '}}' at position {i} of the template; write '}}}}' for a literal brace.", parameterName);
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            int end = template.IndexOf('}', i + 1);
            if (end < 0)
            {
                throw new ArgumentException($"Unclosed '{{' at position {i} of the template; write '{{{{' for a literal brace.", parameterName);
            }

            string name = template[(i + 1)..end];
            var field = name switch
            {
                "input" => Field.Input,
                "output" => Field.Output,
                "label" => Field.Label,
                _ => throw new ArgumentException($"Unknown placeholder '{{{name}}}' in the template; allowed: {{input}}, {{output}}, {{label}}.", parameterName),
            };
            if (literal.Length > 0)
            {
                segments.Add(new Segment(Field.Literal, literal.ToString()));
                literal.Clear();
            }

            segments.Add(new Segment(field, string.Empty));
            i = end;
        }

        if (literal.Length > 0)
        {
            segments.Add(new Segment(Field.Literal, literal.ToString()));
        }

        return [.. segments];
    }

    private readonly record struct Segment(Field Field, string Literal);
}
