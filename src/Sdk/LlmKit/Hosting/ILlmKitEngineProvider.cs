using LlmKit.Generation;
using LlmKit.Scoring;

namespace LlmKit.Hosting;

/// <summary>
/// An engine other than LlmKit's own that <c>AddLlmKit</c> can run a model on, selected by
/// <see cref="LlmKitOptions.Engine"/>. An engine package registers one (e.g. <c>UseOnnxRuntimeGenAI()</c> in
/// <c>LlmKit.OnnxRuntimeGenAI</c>) so the core package never depends on it.
/// </summary>
/// <remarks>Implementations are thread-safe singletons.</remarks>
public interface ILlmKitEngineProvider
{
    /// <summary>The name <see cref="LlmKitOptions.Engine"/> selects this engine by (compared case-insensitively).</summary>
    string Name { get; }

    /// <summary>Loads the model folder of <paramref name="options"/>. The container owns (and disposes) the result.</summary>
    /// <param name="options">The validated registration options.</param>
    /// <param name="services">The container, for loggers and other services.</param>
    IGenerationEngine Load(LlmKitOptions options, IServiceProvider services);

    /// <summary>Creates the <see cref="ITokenScorer"/> over an engine this provider loaded.</summary>
    /// <param name="engine">The engine returned by <see cref="Load"/>.</param>
    ITokenScorer CreateScorer(IGenerationEngine engine);
}

/// <summary>The names of the engines LlmKit knows about, and the error when a configured one is not registered.</summary>
public static class LlmKitEngines
{
    /// <summary>LlmKit's own engine (the default).</summary>
    public const string LlmKit = "LlmKit";

    /// <summary>onnxruntime-genai, from the package <c>LlmKit.OnnxRuntimeGenAI</c>.</summary>
    public const string OnnxRuntimeGenAI = "OnnxRuntimeGenAI";

    /// <summary>True when <paramref name="engine"/> selects LlmKit's own engine (null, empty or <c>LlmKit</c>).</summary>
    public static bool IsBuiltIn(string? engine) =>
        string.IsNullOrWhiteSpace(engine) || string.Equals(engine.Trim(), LlmKit, StringComparison.OrdinalIgnoreCase);

    /// <summary>The provider registered for <paramref name="engine"/>, or null.</summary>
    public static ILlmKitEngineProvider? Find(IEnumerable<ILlmKitEngineProvider> providers, string engine)
    {
        ArgumentNullException.ThrowIfNull(providers);
        ArgumentNullException.ThrowIfNull(engine);
        foreach (var provider in providers)
        {
            if (string.Equals(provider.Name, engine.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return provider;
            }
        }

        return null;
    }

    /// <summary>The message for an <see cref="LlmKitOptions.Engine"/> whose package registration was not called.</summary>
    /// <param name="setting">The setting's configuration path, e.g. <c>LlmKit:Engine</c>.</param>
    /// <param name="engine">The configured engine name.</param>
    /// <param name="registered">The engines that are registered.</param>
    public static string NotRegisteredMessage(string setting, string engine, IEnumerable<string> registered)
    {
        ArgumentNullException.ThrowIfNull(registered);
        string available = string.Join(", ", new[] { LlmKit }.Concat(registered));
        if (string.Equals(engine?.Trim(), OnnxRuntimeGenAI, StringComparison.OrdinalIgnoreCase))
        {
            return $"{setting} is '{engine}', but the onnxruntime-genai engine is not registered: add the package LlmKit.OnnxRuntimeGenAI " +
                "and call UseOnnxRuntimeGenAI() on the services (services.AddLlmKit(configuration).UseOnnxRuntimeGenAI()). " +
                $"Registered engines: {available}.";
        }

        return $"{setting} is '{engine}', which is not a registered engine. Registered engines: {available} " +
            $"({OnnxRuntimeGenAI} comes with the package LlmKit.OnnxRuntimeGenAI and UseOnnxRuntimeGenAI()).";
    }
}
