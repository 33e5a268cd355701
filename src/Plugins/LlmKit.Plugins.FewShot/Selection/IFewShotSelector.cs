namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>Chooses which examples to show the model for one input.</summary>
/// <remarks>
/// Contract for every implementation: the result is ranked best first, holds at most <c>count</c> distinct examples,
/// and is empty (not an error) when the pool is empty. <c>count</c> below 1 throws
/// <see cref="ArgumentOutOfRangeException"/>; a null input throws <see cref="ArgumentNullException"/>.
/// LlmKit's selectors are thread-safe.
/// </remarks>
public interface IFewShotSelector
{
    /// <summary>Selects up to <paramref name="count"/> examples for <paramref name="input"/>, best first.</summary>
    /// <param name="input">The real input the examples should help with.</param>
    /// <param name="count">How many examples to return at most; at least 1.</param>
    /// <param name="cancellationToken">Cancels the selection.</param>
    Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default);
}
