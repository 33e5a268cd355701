using LlmKit.Models;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>Healthy once the model is loaded (the app loads it at start); unhealthy with the load error otherwise.</summary>
public sealed class ModelHealthCheck(IServiceProvider services) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var model = services.GetRequiredService<OnnxGenAIModel>();
            var data = new Dictionary<string, object>
            {
                ["model"] = model.ModelId,
                ["max_length"] = model.MaxLength,
                ["load_ms"] = Math.Round(model.LoadTime.TotalMilliseconds),
            };
            return Task.FromResult(HealthCheckResult.Healthy("Model loaded.", data));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The model could not be loaded: " + ex.Message, ex));
        }
    }
}
