namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>Indices of the k largest scores, best first; ties go to the lower index so results are deterministic.</summary>
internal static class TopK
{
    public static int[] Largest(ReadOnlySpan<float> scores, int k)
    {
        k = Math.Min(k, scores.Length);
        if (k <= 0)
        {
            return [];
        }

        // Insertion into a small sorted buffer: O(n·k) worst case but O(n) in practice for the small k of few-shot prompts.
        var best = new int[k];
        int filled = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float score = scores[i];
            if (float.IsNaN(score))
            {
                continue;
            }

            if (filled == k && score <= scores[best[k - 1]])
            {
                continue;
            }

            int position = filled < k ? filled++ : k - 1;
            while (position > 0 && score > scores[best[position - 1]])
            {
                best[position] = best[position - 1];
                position--;
            }

            best[position] = i;
        }

        return filled == k ? best : best[..filled];
    }
}
