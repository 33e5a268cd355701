using LlmKit.Models;
using LlmKit.Samples.Shared;

namespace ChatAgent;

/// <summary>Finds and loads the model; anything that goes wrong here is a configuration error, reported in one line.</summary>
internal static class ModelStartup
{
    /// <summary>Locates (converting the default model on first use) and loads the model folder.</summary>
    /// <param name="modelPath">--model, or null.</param>
    /// <param name="progress">Hears about a first-run conversion of the default model.</param>
    /// <exception cref="ConfigurationException">No model was found, or the folder could not be loaded; the message is one line.</exception>
    public static OnnxGenAIModel Load(string? modelPath, Action<string> progress)
    {
        string? folder = null;
        try
        {
            folder = ModelLocator.Resolve(modelPath, progress);
            return OnnxGenAIModel.Load(folder);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever a bad folder makes the loader throw (even an exception type it should not), the user gets the
            // message and the folder, not a stack trace.
            string message = folder is null || ex.Message.Contains(folder, StringComparison.Ordinal) ? ex.Message : $"{folder}: {ex.Message}";
            throw new ConfigurationException(message, ex);
        }
    }
}

/// <summary>A setting or model folder the sample cannot work with; the message is one line, for stderr.</summary>
internal sealed class ConfigurationException : Exception
{
    public ConfigurationException(string message, Exception innerException)
        : base(message.ReplaceLineEndings(" "), innerException)
    {
    }
}
