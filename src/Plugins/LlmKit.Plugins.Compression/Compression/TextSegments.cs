namespace LlmKit.Plugins.Compression;

/// <summary>Splits a text into segments that tile it: sentences (cut after . ! ? followed by whitespace) and lines, long ones cut at a space.</summary>
internal static class TextSegments
{
    /// <summary>Segment spans (start, end) covering <paramref name="text"/> with no gap; trailing whitespace stays with the segment it follows.</summary>
    public static List<(int Start, int End)> Split(string text, int maxCharacters)
    {
        var spans = new List<(int, int)>();
        int start = 0;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            bool lineEnd = c == '\n';
            i++;
            bool sentenceEnd = false;
            if (c is '.' or '!' or '?')
            {
                // A sentence ends at . ! ? followed (after any closing quotes or brackets) by whitespace or the end.
                int after = i;
                while (after < text.Length && text[after] is '"' or '\'' or ')' or '\u201D')
                {
                    after++;
                }

                sentenceEnd = after >= text.Length || char.IsWhiteSpace(text[after]);
            }

            if (lineEnd || sentenceEnd)
            {
                // Closing quotes and the whitespace after the sentence belong to it (a line break ends it).
                while (sentenceEnd && i < text.Length && text[i] is '"' or '\'' or ')' or '\u201D')
                {
                    i++;
                }

                while (!lineEnd && i < text.Length && text[i] is ' ' or '\t' or '\r')
                {
                    i++;
                }

                if (!lineEnd && i < text.Length && text[i] == '\n')
                {
                    i++;
                }

                AddCut(spans, text, start, i, maxCharacters);
                start = i;
            }
        }

        if (start < text.Length)
        {
            AddCut(spans, text, start, text.Length, maxCharacters);
        }

        return spans;
    }

    private static void AddCut(List<(int, int)> spans, string text, int start, int end, int maxCharacters)
    {
        while (end - start > maxCharacters)
        {
            int cut = text.LastIndexOf(' ', start + maxCharacters - 1, maxCharacters - 1);
            cut = cut <= start ? start + maxCharacters : cut + 1;
            spans.Add((start, cut));
            start = cut;
        }

        if (end > start)
        {
            spans.Add((start, end));
        }
    }
}
