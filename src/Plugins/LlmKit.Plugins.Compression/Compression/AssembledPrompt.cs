using System.Text;

namespace LlmKit.Plugins.Compression;

/// <summary>The prompt parts joined into one text, with the characters that must stay verbatim (uncompressible parts and separators).</summary>
internal sealed class AssembledPrompt
{
    private AssembledPrompt(string text, bool[] verbatim)
    {
        Text = text;
        Verbatim = verbatim;
    }

    public string Text { get; }

    public bool[] Verbatim { get; }

    public static AssembledPrompt Build(PromptParts prompt, IReadOnlyList<int> contextIndices, PromptCompressionOptions options)
    {
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
        foreach (int index in contextIndices)
        {
            Append(prompt.Contexts[index], verbatim: false);
        }

        Append(prompt.Question, !options.CompressQuestion);
        var flags = new bool[builder.Length];
        foreach ((int start, int length) in verbatimRanges)
        {
            Array.Fill(flags, true, start, length);
        }

        return new AssembledPrompt(builder.ToString(), flags);
    }
}
