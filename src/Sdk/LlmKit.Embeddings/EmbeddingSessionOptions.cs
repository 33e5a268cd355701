using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Embeddings;

/// <summary>Builds ONNX Runtime session options for an encoder, with the provider names LlmKit's decoder accepts.</summary>
internal static class EmbeddingSessionOptions
{
    public static SessionOptions Create(BertOnnxOptions options)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.GraphOptimizationLevel,
            LogId = "llmkit-embeddings",
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (options.IntraOpThreads is { } threads)
        {
            sessionOptions.IntraOpNumThreads = threads;
        }

        try
        {
            foreach (var name in options.ExecutionProviders ?? [])
            {
                Append(sessionOptions, name);
            }
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }

        return sessionOptions;
    }

    private static void Append(SessionOptions sessionOptions, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name, nameof(BertOnnxOptions.ExecutionProviders));
        try
        {
            switch (name.Trim().ToLowerInvariant())
            {
                case "cpu":
                    break; // always present as the fallback
                case "cuda":
                    sessionOptions.AppendExecutionProvider_CUDA(0);
                    break;
                case "dml":
                    sessionOptions.AppendExecutionProvider_DML(0);
                    break;
                default:
                    sessionOptions.AppendExecutionProvider(name, new Dictionary<string, string>());
                    break;
            }
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
        {
            throw new NotSupportedException(
                $"Execution provider '{name}' is not available in this ONNX Runtime build ({ex.Message}). " +
                "Reference the ONNX Runtime package that contains it (e.g. Microsoft.ML.OnnxRuntime.Gpu for CUDA), or use [\"cpu\"].", ex);
        }
    }
}
