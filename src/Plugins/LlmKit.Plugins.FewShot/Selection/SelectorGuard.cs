namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>Shared argument checks so every selector fails the same way.</summary>
internal static class SelectorGuard
{
    public static void CheckArguments(string input, int count)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
        }
    }
}
