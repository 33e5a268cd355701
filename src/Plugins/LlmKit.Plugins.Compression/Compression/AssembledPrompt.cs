using System.Text;

namespace LlmKit.Plugins.Compression;

/// <summary>The prompt parts joined into one text, with the characters that must stay verbatim (uncompressible parts and separators).</summary>
internal sealed class AssembledPrompt
{
    private AssembledPrompt(string text, bool[] verbatim, float[]? priority, int[] contextStarts)
    {
        ContextStarts = contextStarts;
        Text = text;
        Verbatim = verbatim;
        Priority = priority;
    }

    public string Text { get; }

    public bool[] Verbatim { get; }

    /// <summary>Per character, the budget-priority scale of its segment (smaller = kept first; 1 = no preference), or null when segments were not ranked.</summary>
    public float[]? Priority { get; }

    /// <summary>Where each assembled context starts in <see cref="Text"/> (-1 for an empty one).</summary>
    public int[] ContextStarts { get; }

    /// <summary>
    /// Force-kept flags carried over from the original contexts (after the question-aware stage removed text, a rule
    /// such as "a capitalised word not starting a sentence" must not match anew); null to mark <see cref="Text"/> afresh.
    /// </summary>
    public bool[]? Forced { get; set; }

    public static AssembledPrompt Build(PromptParts prompt, IReadOnlyList<int> contextIndices, PromptCompressionOptions options) =>
        Build(prompt, contextIndices, options, null, null);

    /// <summary>Assembles with contexts replaced by <paramref name="contexts"/> (same order as <paramref name="contextIndices"/>), each with a per-character priority.</summary>
    public static AssembledPrompt Build(PromptParts prompt, IReadOnlyList<int> contextIndices, PromptCompressionOptions options, IReadOnlyList<string>? contexts, IReadOnlyList<float[]>? priorities)
    {
        var priorityRanges = new List<(int Start, float[] Values)>();
        var contextStarts = new int[contextIndices.Count];
        var builder = new StringBuilder();
        var verbatimRanges = new List<(int Start, int Length)>();

        void Append(string? part, bool verbatim)
        {
            if (string.IsNullOrEmpty(part))
            {
                return;
            }

            if (builder.Length > 0)
            {
                verbatimRanges.Add((builder.Length, prompt.Separator.Length));
                builder.Append(prompt.Separator);
            }

            if (verbatim)
            {
                verbatimRanges.Add((builder.Length, part.Length));
            }

            builder.Append(part);
        }

        Append(prompt.Instruction, !options.CompressInstruction);
        for (int k = 0; k < contextIndices.Count; k++)
        {
            string context = contexts is null ? prompt.Contexts[contextIndices[k]] : contexts[k];
            Append(context, verbatim: false);
            contextStarts[k] = context.Length == 0 ? -1 : builder.Length - context.Length;
            if (priorities is not null && context.Length > 0)
            {
                priorityRanges.Add((builder.Length - context.Length, priorities[k]));
            }

        }

        Append(prompt.Question, !options.CompressQuestion);
        var flags = new bool[builder.Length];
        foreach ((int start, int length) in verbatimRanges)
        {
            Array.Fill(flags, true, start, length);
        }

        float[]? priority = null;
        if (priorities is not null)
        {
            priority = new float[builder.Length];
            Array.Fill(priority, 1f);
            foreach ((int start, float[] values) in priorityRanges)
            {
                Array.Copy(values, 0, priority, start, values.Length);
            }
        }

        return new AssembledPrompt(builder.ToString(), flags, priority, contextStarts);
    }
}
