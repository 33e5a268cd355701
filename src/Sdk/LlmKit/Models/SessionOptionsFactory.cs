using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Models;

/// <summary>Builds ONNX Runtime session options from the folder's <c>session_options</c> and the caller's options.</summary>
internal static class SessionOptionsFactory
{
    public static SessionOptions Create(GenAIConfig config, OnnxGenAIModelOptions options)
    {
        var folderOptions = config.Model.Decoder.SessionOptions;
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.GraphOptimizationLevel,
            LogId = folderOptions.LogId ?? "llmkit",
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        int? threads = options.IntraOpThreads ?? (folderOptions.IntraOpNumThreads is > 0 ? folderOptions.IntraOpNumThreads : null);
        if (threads is { } t)
        {
            sessionOptions.IntraOpNumThreads = t;
        }

        try
        {
            foreach (var (name, providerOptions) in Providers(folderOptions, options))
            {
                Append(sessionOptions, name, providerOptions);
            }
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }

        return sessionOptions;
    }

    private static IEnumerable<(string Name, Dictionary<string, string> Options)> Providers(GenAISessionOptions folder, OnnxGenAIModelOptions options)
    {
        if (options.ExecutionProviders is not null)
        {
            foreach (var name in options.ExecutionProviders)
            {
                yield return (name, new Dictionary<string, string>());
            }

            yield break;
        }

        foreach (var entry in folder.ProviderOptions)
        {
            foreach (var (name, values) in entry)
            {
                yield return (name, values);
            }
        }
    }

    private static void Append(SessionOptions sessionOptions, string name, Dictionary<string, string> providerOptions)
    {
        string key = name.Trim().ToLowerInvariant();
        try
        {
            switch (key)
            {
                case "cpu":
                    break; // Always present as the fallback.
                case "cuda":
                    sessionOptions.AppendExecutionProvider_CUDA(DeviceId(providerOptions));
                    break;
                case "dml":
                    sessionOptions.AppendExecutionProvider_DML(DeviceId(providerOptions));
                    break;
                default:
                    sessionOptions.AppendExecutionProvider(name, providerOptions);
                    break;
            }
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
        {
            throw new NotSupportedException(
                $"Execution provider '{name}' is not available in this ONNX Runtime build ({ex.Message}). " +
                "Reference the ONNX Runtime package that contains it (e.g. Microsoft.ML.OnnxRuntime.Gpu for CUDA, " +
                "Microsoft.ML.OnnxRuntime.DirectML for DirectML), or set ExecutionProviders to [\"cpu\"].", ex);
        }
    }

    private static int DeviceId(Dictionary<string, string> providerOptions) =>
        providerOptions.TryGetValue("device_id", out var id) && int.TryParse(id, out int value) ? value : 0;
}
