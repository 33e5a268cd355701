using System.Text.RegularExpressions;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>Settings for <see cref="OrdinalServiceCollectionExtensions.AddOrdinalClassifier(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/>; bind from a configuration section such as "LlmKit:Ordinal".</summary>
public sealed partial class OrdinalClassifierOptions
{
    /// <summary>Path of a model file written by <see cref="Persistence.OrdinalModelSerializer"/>. Required.</summary>
    public string? ModelPath { get; set; }

    /// <summary>Name of the Semantic Kernel plugin (letters, digits, underscores). Default "ordinal".</summary>
    public string PluginName { get; set; } = "ordinal";

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath))
        {
            throw new ArgumentException("OrdinalClassifierOptions.ModelPath is required: the path of a saved ordinal model (JSON).", nameof(ModelPath));
        }

        if (string.IsNullOrEmpty(PluginName) || !PluginNamePattern().IsMatch(PluginName))
        {
            throw new ArgumentException($"OrdinalClassifierOptions.PluginName '{PluginName}' is invalid: use letters, digits and underscores only.", nameof(PluginName));
        }
    }

    [GeneratedRegex("^[0-9A-Za-z_]+$")]
    private static partial Regex PluginNamePattern();
}
