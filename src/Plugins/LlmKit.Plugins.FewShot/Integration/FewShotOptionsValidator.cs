using Microsoft.Extensions.Options;

namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>Checks <see cref="FewShotOptions"/>; each failure names the setting and its allowed range.</summary>
internal sealed class FewShotOptionsValidator : IValidateOptions<FewShotOptions>
{
    public ValidateOptionsResult Validate(string? name, FewShotOptions options)
    {
        var failures = new List<string>();
        if (options.Count is < 1 or > FewShotOptions.MaxCount)
        {
            failures.Add($"{nameof(FewShotOptions.Count)} is {options.Count}; it must be between 1 and {FewShotOptions.MaxCount}.");
        }

        if (!Enum.IsDefined(options.Selector))
        {
            failures.Add($"{nameof(FewShotOptions.Selector)} '{options.Selector}' is unknown; use one of {string.Join(", ", Enum.GetNames<FewShotSelectorKind>())}.");
        }

        if (!(options.MmrLambda is >= 0 and <= 1))
        {
            failures.Add($"{nameof(FewShotOptions.MmrLambda)} is {options.MmrLambda}; it must be between 0 and 1.");
        }

        if (options.MmrFetchCount < 1)
        {
            failures.Add($"{nameof(FewShotOptions.MmrFetchCount)} is {options.MmrFetchCount}; it must be at least 1.");
        }

        if (options.MaxExampleTokens is < 1)
        {
            failures.Add($"{nameof(FewShotOptions.MaxExampleTokens)} is {options.MaxExampleTokens}; it must be at least 1 (or unset for no budget).");
        }

        if (options.PerExampleOverheadTokens < 0)
        {
            failures.Add($"{nameof(FewShotOptions.PerExampleOverheadTokens)} is {options.PerExampleOverheadTokens}; it must be >= 0.");
        }

        if (!Enum.IsDefined(options.Ordering))
        {
            failures.Add($"{nameof(FewShotOptions.Ordering)} '{options.Ordering}' is unknown; use MostSimilarLast or MostSimilarFirst.");
        }

        if (string.IsNullOrWhiteSpace(options.PluginName))
        {
            failures.Add($"{nameof(FewShotOptions.PluginName)} must not be empty.");
        }

        if (options.ExamplesPath is { Length: > 0 } path && !File.Exists(path))
        {
            failures.Add($"{nameof(FewShotOptions.ExamplesPath)} '{path}' does not exist.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
