using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Moderation.Verdicts;

/// <summary>Cuts text so that it fits a token budget (the scorer's context minus the prompt around it).</summary>
internal static class TokenBudget
{
    /// <summary>The longest prefix of <paramref name="text"/> (cut at a character boundary) with at most <paramref name="maxTokens"/> tokens.</summary>
    public static string Truncate(Tokenizer tokenizer, string text, int maxTokens)
    {
        if (maxTokens <= 0)
        {
            return string.Empty;
        }

        string candidate = text;
        for (int attempt = 0; attempt < 12; attempt++)
        {
            int count = tokenizer.CountTokens(candidate);
            if (count <= maxTokens)
            {
                return candidate;
            }

            // Shrink in proportion, a little more than needed, so two or three rounds converge.
            int length = (int)(candidate.Length * (double)maxTokens / count * 0.9);
            candidate = CutAt(candidate, Math.Max(0, length));
        }

        return string.Empty;
    }

    /// <summary>Cuts to at most <paramref name="length"/> characters without splitting a surrogate pair.</summary>
    public static string CutAt(string text, int length)
    {
        if (text.Length <= length)
        {
            return text;
        }

        if (length > 0 && char.IsHighSurrogate(text[length - 1]))
        {
            length--;
        }

        return text[..length];
    }
}
