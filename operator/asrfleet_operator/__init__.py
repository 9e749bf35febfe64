"""asrfleet operator: SpeechRecognizer -> Deployment, Service, HPA, PDB, ServiceMonitor."""

__version__ = "0.1.0"
